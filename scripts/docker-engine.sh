#!/usr/bin/env bash
# Make sure the host tools the tests need are installed and that a Docker
# engine answers `docker info`.
#
# - installs the missing Debian packages (docker.io, debootstrap, minisign,
#   rsync, openssh-client, busybox-static, shellcheck, qemu-user-static, ...)
#   with apt-get;
# - starts dockerd in the background when no engine answers (systemd is not
#   PID 1 on these machines, so there is no service manager to ask);
# - waits until `docker info` succeeds, or fails with the daemon's log.
#
# Idempotent: does nothing when everything is installed and running.
#
# Usage: scripts/docker-engine.sh [--packages-only]
#   --packages-only   install the host packages, leave the engine alone
#
# Environment:
#   DOCKERD_LOG       log file of a dockerd started here (default /var/log/dockerd.log)
#   DOCKERD_TIMEOUT   seconds to wait for the engine (default 60)
set -euo pipefail

DOCKERD_LOG="${DOCKERD_LOG:-/var/log/dockerd.log}"
DOCKERD_TIMEOUT="${DOCKERD_TIMEOUT:-60}"

# Debian package -> a command (or file) that proves it is installed.
declare -A PACKAGES=(
    [docker.io]=/usr/sbin/dockerd
    [debootstrap]=/usr/sbin/debootstrap
    [debian-archive-keyring]=/usr/share/keyrings/debian-archive-keyring.gpg
    [minisign]=minisign
    [rsync]=rsync
    [openssh-client]=ssh
    [busybox-static]=/bin/busybox
    [ca-certificates]=/etc/ssl/certs/ca-certificates.crt
    [git]=git
    [make]=make
    [iptables]=/usr/sbin/iptables
    [shellcheck]=shellcheck
    [file]=file
    # dpkg-scanpackages: scripts/package-bundle.sh indexes the .deb files of a package bundle.
    [dpkg-dev]=/usr/bin/dpkg-scanpackages
    # The arm64 lab host and image run under emulation (scripts/emulation.sh).
    [qemu-user-static]=/usr/bin/qemu-aarch64-static
)

log() { printf 'docker-engine: %s\n' "$*" >&2; }

as_root() {
    if [[ "$(id -u)" -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo -n "$@"
    else
        log "needs root for: $*"
        return 1
    fi
}

have() {
    local probe="$1"
    if [[ "$probe" == /* ]]; then
        [[ -e "$probe" ]]
    else
        command -v "$probe" >/dev/null 2>&1
    fi
}

install_missing() {
    local missing=() pkg
    for pkg in "${!PACKAGES[@]}"; do
        if ! have "${PACKAGES[$pkg]}" || ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed'; then
            missing+=("$pkg")
        fi
    done
    if [[ ${#missing[@]} -eq 0 ]]; then
        log "host packages present"
        return 0
    fi
    log "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1
    as_root apt-get update -qq
    as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# The engine's client: Debian's docker.io puts it in /usr/bin; a newer client
# elsewhere on PATH talks to the 20.10 engine too (API version negotiation).
engine_up() { docker info >/dev/null 2>&1; }

start_engine() {
    if engine_up; then
        log "engine already running ($(docker version --format '{{.Server.Version}}' 2>/dev/null || echo '?'))"
        return 0
    fi
    if pgrep -x dockerd >/dev/null 2>&1; then
        log "dockerd process exists but does not answer yet; waiting for it"
    else
        # A stale pid file from a killed daemon stops a new one from starting.
        if [[ -f /var/run/docker.pid ]] && ! kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
            as_root rm -f /var/run/docker.pid
        fi
        log "starting dockerd (log: $DOCKERD_LOG)"
        as_root mkdir -p "$(dirname "$DOCKERD_LOG")"
        # setsid: the daemon must outlive this script and the make that called it.
        as_root setsid dockerd >>"$DOCKERD_LOG" 2>&1 </dev/null &
        disown || true
    fi
    local waited=0
    until engine_up; do
        if ((waited >= DOCKERD_TIMEOUT)); then
            log "ERROR: the Docker engine did not answer 'docker info' within ${DOCKERD_TIMEOUT}s"
            log "last lines of $DOCKERD_LOG:"
            tail -n 30 "$DOCKERD_LOG" >&2 || true
            return 1
        fi
        sleep 1
        waited=$((waited + 1))
    done
    log "engine ready after ${waited}s ($(docker version --format '{{.Server.Version}}' 2>/dev/null || echo '?'))"
}

case "${1:-}" in
    "") install_missing; start_engine ;;
    --packages-only) install_missing ;;
    *) log "unknown argument '$1' (usage: $0 [--packages-only])"; exit 2 ;;
esac
