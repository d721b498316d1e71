#!/usr/bin/env bash
# Let this machine run arm64 programs (the lab's emulated arm64 host, the arm64
# base image) under user-mode emulation:
#
# - Debian's qemu-user-static provides the emulator and its binfmt_misc line
#   /usr/lib/binfmt.d/qemu-aarch64.conf (scripts/docker-engine.sh installs it);
# - binfmt_misc is mounted on /proc/sys/fs/binfmt_misc when it is not;
# - qemu-aarch64 is registered from that line. Its F flag makes the kernel open
#   the emulator at registration time, so it also runs aarch64 programs inside
#   containers and chroots that hold no emulator of their own. The C flag is
#   added to Debian's line: the kernel then gives a set-user-ID program (sudo) the
#   credentials of the program, not of the emulator, so `sudo` and Ansible's
#   become work on an emulated host as on a real one (without it sudo says
#   "effective uid is not 0"). C implies O; Debian's line has O already.
#
# Idempotent: a registration that is already there, enabled and carries the F
# and C flags is kept; one without them (registered by another tool, or by an
# earlier version of this script) is replaced.
#
# Usage: scripts/emulation.sh [ARCH...]    ARCH: aarch64 (default), arm
set -euo pipefail

BINFMT_DIR=/proc/sys/fs/binfmt_misc
CONF_DIR=/usr/lib/binfmt.d

log() { printf 'emulation: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[[ "$(id -u)" -eq 0 ]] || die "needs root (binfmt_misc is a kernel setting)"

mount_binfmt() {
    if [[ -w "$BINFMT_DIR/register" ]]; then
        return 0
    fi
    log "mounting binfmt_misc on $BINFMT_DIR"
    mount -t binfmt_misc binfmt_misc "$BINFMT_DIR" \
        || die "cannot mount binfmt_misc on $BINFMT_DIR (a container needs it from its host)"
    [[ -w "$BINFMT_DIR/register" ]] || die "$BINFMT_DIR/register is not writable after mounting binfmt_misc"
}

register() {
    local name="qemu-$1" conf entry
    conf="$CONF_DIR/$name.conf"
    [[ -f "$conf" ]] || die "$conf missing: install Debian's qemu-user-static (make host-packages)"
    entry="$BINFMT_DIR/$name"
    if [[ -f "$entry" ]]; then
        if grep -qx enabled "$entry" && grep -Eq '^flags: .*F' "$entry" && grep -Eq '^flags: .*C' "$entry"; then
            log "$name: registered ($(sed -n 's/^interpreter //p' "$entry"), flags $(sed -n 's/^flags: //p' "$entry"))"
            return 0
        fi
        log "$name: registered without the F or C flag, or disabled; registering it again from $conf"
        echo -1 >"$entry"
    fi
    # The .conf file holds the register line itself (comments aside).
    # The line is :name:type:offset:magic:mask:interpreter:flags; C joins the flags.
    grep -v '^[[:space:]]*#' "$conf" | grep -m1 "^:$name:" | sed -e '/:[A-Z]*C[A-Z]*$/!s/$/C/' >"$BINFMT_DIR/register" \
        || die "could not register $name from $conf"
    grep -Eq '^flags: .*F' "$entry" || die "$name registered without the F flag: containers could not use it"
    grep -Eq '^flags: .*C' "$entry" || die "$name registered without the C flag: sudo could not work on an emulated host"
    log "$name: registered from $conf ($(sed -n 's/^interpreter //p' "$entry"), flags $(sed -n 's/^flags: //p' "$entry"))"
}

ARCHES=("$@")
[[ ${#ARCHES[@]} -gt 0 ]] || ARCHES=(aarch64)
mount_binfmt
for arch in "${ARCHES[@]}"; do
    case "$arch" in
        aarch64 | arm) register "$arch" ;;
        *) die "unknown architecture '$arch' (aarch64, arm)" ;;
    esac
done
