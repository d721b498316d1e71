#!/usr/bin/env bash
# Build the local base images the molecule scenarios and demos run on. There is
# no container registry on these machines, so every image is made from files:
#
#   groundwork/debian-systemd:bookworm   debootstrap minbase + systemd + python3
#   groundwork/debian-systemd:trixie     the same for Debian 13
#   groundwork/busybox:local             /bin/busybox from Debian's busybox-static
#                                        (a tiny image for nested-docker demos)
#   groundwork/debian-systemd:bookworm-arm64
#                                        Debian 12 for arm64, the same recipe plus
#                                        busybox-static (a real arm64 program for the
#                                        demo); runs under qemu-user emulation
#                                        (scripts/emulation.sh, make emulation)
#
# The Debian mirror is the one this machine's apt already uses, read at run
# time from /etc/apt/sources.list.d/*.sources or /etc/apt/sources.list; no
# mirror host is written in the repository.
#
# An image whose tag exists with the current recipe label is kept (cache);
# the Debian images are built in parallel.
#
# Usage: scripts/base-images.sh [--force] [IMAGE_NAME...]
#   IMAGE_NAME: bookworm, trixie, busybox, bookworm-arm64 (default: all four)
# Environment:
#   IMAGE_REPO        repository part of the Debian tags (default groundwork/debian-systemd)
#   BUSYBOX_IMAGE     tag of the busybox image (default groundwork/busybox:local)
#   DEBIAN_MIRROR     override the mirror read from apt's sources
#   SECURITY_MIRROR   override the security mirror read from apt's sources
#   IMAGES_WORKDIR    scratch space for root filesystems (default /var/tmp/groundwork-images)
#   BOOT_TIMEOUT      seconds a new image may take to boot systemd (default 60; 600 emulated)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
IMAGE_REPO="${IMAGE_REPO:-groundwork/debian-systemd}"
BUSYBOX_IMAGE="${BUSYBOX_IMAGE:-groundwork/busybox:local}"
IMAGES_WORKDIR="${IMAGES_WORKDIR:-/var/tmp/groundwork-images}"
LOG_DIR="$ROOT/build/images"
# Packages on top of debootstrap's minbase. python3-apt lets ansible.builtin.apt
# work without installing it first in every test instance.
INCLUDE="systemd,systemd-sysv,python3,python3-apt,sudo,iproute2,ca-certificates"
# The arm64 image also carries Debian's arm64 busybox-static: the demo takes its
# /bin/busybox from the image as the arm64 build of a program (the amd64 build
# is this machine's own /bin/busybox from the same package).
INCLUDE_ARM64="$INCLUDE,busybox-static"
# Bump when the way images are made changes: cached images with another
# recipe label are rebuilt.
RECIPE="3"

log() { printf 'base-images: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# ---------------------------------------------------------------- mirrors ---

# Print "URI SUITE" for every enabled binary ("deb") source apt knows.
apt_sources() {
    local f
    shopt -s nullglob
    for f in /etc/apt/sources.list.d/*.sources; do
        awk 'BEGIN { RS = ""; FS = "\n" }
        {
            types = ""; uris = ""; suites = ""; enabled = "yes"
            for (i = 1; i <= NF; i++) {
                line = $i
                if (line ~ /^[ \t]*#/) continue
                split(line, kv, ":")
                key = tolower(kv[1]); sub(/^[^:]*:[ \t]*/, "", line)
                if (key == "types") types = line
                else if (key == "uris") uris = line
                else if (key == "suites") suites = line
                else if (key == "enabled") enabled = tolower(line)
            }
            if (enabled == "no" || (" " types " ") !~ / deb /) next
            nu = split(uris, u, /[ \t]+/); ns = split(suites, s, /[ \t]+/)
            for (a = 1; a <= nu; a++) for (b = 1; b <= ns; b++)
                if (u[a] != "" && s[b] != "") print u[a], s[b]
        }' "$f"
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [[ -f "$f" ]] || continue
        # deb [options] URI SUITE COMPONENTS...
        sed -e 's/#.*//' -e 's/\[[^]]*\]//' "$f" | awk '$1 == "deb" && NF >= 3 { print $2, $3 }'
    done
    shopt -u nullglob
}

# The Debian archive mirror: the URI of a plain release suite (no "-updates",
# no "-security"), preferring one that is not a security archive.
find_mirror() {
    apt_sources | awk '$2 !~ /-/ && $1 !~ /security/ { print $1; exit }'
}

find_security_mirror() {
    apt_sources | awk '$2 ~ /-security$/ { print $1; exit }'
}

# ------------------------------------------------------------------ images ---

image_recipe() {
    docker image inspect --format '{{ index .Config.Labels "org.groundwork.recipe" }}' "$1" 2>/dev/null || true
}

image_is_current() {
    [[ "$FORCE" -eq 0 && "$(image_recipe "$1")" == "$RECIPE" ]]
}

# Remove a root filesystem safely: unmount anything a failed debootstrap left
# mounted inside it, and never cross into another filesystem.
remove_rootfs() {
    local dir="$1" m
    [[ -d "$dir" ]] || return 0
    while read -r m; do
        if [[ -n "$m" && "$m" != "$dir" ]]; then
            umount -l "$m" 2>/dev/null || true
        fi
    done < <(findmnt -R -n -l -o TARGET --target "$dir" 2>/dev/null | grep -F "$dir/" | sort -r || true)
    rm -rf --one-file-system "$dir"
}

# Start a container the way the molecule scenarios do and wait until systemd
# reports the system running: proves the image boots.
# Also checks the machine the image's programs are built for (uname -m), and
# logs how long systemd took to boot: under emulation that is what a lab host
# or a molecule instance on this image waits for.
check_systemd_image() {
    local tag="$1" arch="$2" name state i machine want timeout started
    name="groundwork-image-check-$$-${RANDOM}"
    timeout="${BOOT_TIMEOUT:-60}"
    [[ "$arch" == "$HOST_ARCH" ]] || timeout="${BOOT_TIMEOUT:-600}"
    started=$EPOCHREALTIME
    docker run -d --name "$name" \
        --cap-add SYS_ADMIN \
        --security-opt seccomp=unconfined --security-opt apparmor=unconfined \
        --cgroupns=host -v /sys/fs/cgroup:/sys/fs/cgroup:rw \
        --tmpfs /run --tmpfs /run/lock \
        "$tag" >/dev/null
    state=unknown
    for i in $(seq 1 "$timeout"); do
        state="$(docker exec "$name" systemctl is-system-running 2>/dev/null || true)"
        case "$state" in
            running | degraded) break ;;
        esac
        sleep 1
    done
    if [[ "$state" != "running" ]]; then
        docker exec "$name" systemctl --failed --no-pager >&2 || true
        docker rm -f "$name" >/dev/null 2>&1 || true
        # Not cached: the next run builds it again.
        docker image rm "$tag" >/dev/null 2>&1 || true
        die "$tag: systemd reports '$state' instead of 'running' (waited up to ${timeout}s)"
    fi
    local boot
    boot="$(awk -v s="$started" -v e="$EPOCHREALTIME" 'BEGIN { printf "%.1f", e - s }')"
    docker exec "$name" python3 -c 'import apt, sys; print(sys.version.split()[0])' >/dev/null
    machine="$(docker exec "$name" uname -m)"
    want="$(debian_machine "$arch")"
    if [[ "$machine" != "$want" ]]; then
        docker rm -f "$name" >/dev/null 2>&1 || true
        die "$tag: uname -m prints '$machine' in the container, not '$want'"
    fi
    docker rm -f "$name" >/dev/null
    log "$tag: systemd boots (is-system-running=running) in ${boot}s, python3 and python3-apt present, uname -m: $machine"
}

# Debian architecture name -> what `uname -m` prints there.
debian_machine() {
    case "$1" in
        amd64) echo x86_64 ;;
        arm64) echo aarch64 ;;
        *) echo "$1" ;;
    esac
}

write_sources() {
    local rootfs="$1" codename="$2"
    rm -f "$rootfs/etc/apt/sources.list"
    {
        printf 'Types: deb\nURIs: %s\nSuites: %s %s-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
            "$DEBIAN_MIRROR" "$codename" "$codename"
        if [[ -n "$SECURITY_MIRROR" ]]; then
            printf '\nTypes: deb\nURIs: %s\nSuites: %s-security\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
                "$SECURITY_MIRROR" "$codename"
        fi
    } >"$rootfs/etc/apt/sources.list.d/debian.sources"
}

# build_debian NAME: NAME is a Debian codename (the machine's architecture) or
# CODENAME-ARCH for another one (bookworm-arm64), which needs emulation.
build_debian() {
    local name="$1" tag="$IMAGE_REPO:$1" codename arch include rootfs script
    codename="${name%%-*}"
    arch="$HOST_ARCH"
    include="$INCLUDE"
    if [[ "$name" == *-* ]]; then
        arch="${name#*-}"
        include="$INCLUDE_ARM64"
    fi
    if image_is_current "$tag"; then
        log "$tag: present (recipe $RECIPE), skipped"
        return 0
    fi
    mkdir -p "$IMAGES_WORKDIR"
    rootfs="$(mktemp -d "$IMAGES_WORKDIR/rootfs-$name.XXXXXX")"
    # shellcheck disable=SC2064  # expand now: each build has its own directory
    trap "remove_rootfs '$rootfs'" EXIT

    # Debian 12's debootstrap knows trixie; an older one may not: every
    # Debian suite since buster uses the same script as sid.
    script="/usr/share/debootstrap/scripts/$codename"
    [[ -e "$script" ]] || script="/usr/share/debootstrap/scripts/sid"

    log "$tag: debootstrap $codename ($arch) from the apt mirror"
    local start=$SECONDS
    # For another architecture, debootstrap's second stage runs that
    # architecture's programs in the chroot: binfmt_misc and qemu-user do it.
    debootstrap --arch="$arch" --variant=minbase --include="$include" \
        --keyring=/usr/share/keyrings/debian-archive-keyring.gpg \
        "$codename" "$rootfs" "$DEBIAN_MIRROR" "$script"

    write_sources "$rootfs" "$codename"
    if [[ "$arch" == arm64 ]]; then
        # The demo's arm64 program: a real aarch64 build from Debian's package.
        local kind
        kind="$(file -bL "$rootfs/bin/busybox")"
        [[ "$kind" == *"ARM aarch64"* ]] || die "$tag: /bin/busybox is not an aarch64 program: $kind"
        # shellcheck disable=SC2016  # dpkg-query's own format, not shell
        log "$tag: /bin/busybox from busybox-static $(chroot "$rootfs" dpkg-query -W -f='${Version} ${Architecture}' busybox-static): $kind"
    fi
    # Image hygiene: every container gets its own machine id at boot; no
    # package caches or lists (instances run apt-get update themselves).
    : >"$rootfs/etc/machine-id"
    rm -f "$rootfs/var/lib/dbus/machine-id"
    chroot "$rootfs" apt-get clean
    rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/tmp/* "$rootfs"/var/tmp/*
    rm -f "$rootfs"/var/log/*.log "$rootfs"/var/log/apt/* 2>/dev/null || true
    # Units that have no use in a container and only fail there.
    local unit
    for unit in systemd-remount-fs.service getty@tty1.service console-getty.service \
        systemd-firstboot.service sys-kernel-config.mount sys-kernel-debug.mount \
        sys-kernel-tracing.mount; do
        ln -sf /dev/null "$rootfs/etc/systemd/system/$unit"
    done
    if [[ "$arch" != "$HOST_ARCH" ]]; then
        # Under qemu-user (7.2, Debian 12) systemd cannot set up a unit's
        # credentials: LoadCredential= fails with "Failed at step CREDENTIALS
        # ... Invalid argument", so these three boot units would fail. Their
        # credentials are optional (none is passed to a container): drop them.
        for unit in systemd-tmpfiles-setup.service systemd-tmpfiles-setup-dev.service systemd-sysusers.service; do
            mkdir -p "$rootfs/etc/systemd/system/$unit.d"
            printf '# groundwork: emulated image, qemu-user cannot set up credentials\n[Service]\nLoadCredential=\n' \
                >"$rootfs/etc/systemd/system/$unit.d/emulated-no-credentials.conf"
        done
    fi

    local old_id
    old_id="$(docker image inspect --format '{{.Id}}' "$tag" 2>/dev/null || true)"
    tar -C "$rootfs" --numeric-owner -c . | docker import \
        --change 'ENV container=docker' \
        --change 'CMD ["/lib/systemd/systemd"]' \
        --change "LABEL org.groundwork.recipe=$RECIPE" \
        --change "LABEL org.groundwork.debian=$codename" \
        --change "LABEL org.groundwork.arch=$arch" \
        --message "debootstrap $codename $arch minbase + $include" \
        - "$tag" >/dev/null
    remove_rootfs "$rootfs"
    trap - EXIT
    # The image this one replaces (--force, new recipe) is left untagged: drop it.
    if [[ -n "$old_id" && "$old_id" != "$(docker image inspect --format '{{.Id}}' "$tag")" ]]; then
        docker image rm "$old_id" >/dev/null 2>&1 || true
    fi
    log "$tag: imported in $((SECONDS - start))s ($(docker image inspect --format '{{.Size}}' "$tag" | awk '{ printf "%d MB", $1 / 1000000 }'))"
    check_systemd_image "$tag" "$arch"
}

build_busybox() {
    local tag="$BUSYBOX_IMAGE" rootfs
    if image_is_current "$tag"; then
        log "$tag: present (recipe $RECIPE), skipped"
        return 0
    fi
    [[ -x /bin/busybox ]] || die "/bin/busybox missing: install Debian's busybox-static (scripts/docker-engine.sh does)"
    if ! dpkg-query -S /bin/busybox 2>/dev/null | grep -q '^busybox-static:'; then
        die "/bin/busybox is not from busybox-static (a dynamically linked busybox cannot run alone)"
    fi
    mkdir -p "$IMAGES_WORKDIR"
    rootfs="$(mktemp -d "$IMAGES_WORKDIR/rootfs-busybox.XXXXXX")"
    mkdir -p "$rootfs"/{bin,sbin,usr/bin,usr/sbin,etc,tmp,var/www,proc,sys,dev,root}
    cp /bin/busybox "$rootfs/bin/busybox"
    chroot "$rootfs" /bin/busybox --install -s
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$rootfs/etc/passwd"
    printf 'root:x:0:\nnogroup:x:65534:\n' >"$rootfs/etc/group"
    chmod 1777 "$rootfs/tmp"
    tar -C "$rootfs" --numeric-owner -c . | docker import \
        --change 'CMD ["/bin/sh"]' \
        --change "LABEL org.groundwork.recipe=$RECIPE" \
        --message "busybox-static $(dpkg-query -W -f='${Version}' busybox-static)" \
        - "$tag" >/dev/null
    rm -rf --one-file-system "$rootfs"
    docker run --rm "$tag" /bin/sh -c 'echo ok' | grep -qx ok || die "$tag does not run /bin/sh"
    log "$tag: imported"
}

# -------------------------------------------------------------------- main ---

FORCE=0
WANT=()
for arg in "$@"; do
    case "$arg" in
        --force) FORCE=1 ;;
        bookworm | trixie | busybox | bookworm-arm64) WANT+=("$arg") ;;
        -h | --help) sed -n '2,30p' "$0"; exit 0 ;;
        *) die "unknown argument '$arg'" ;;
    esac
done
[[ ${#WANT[@]} -gt 0 ]] || WANT=(bookworm trixie busybox bookworm-arm64)
HOST_ARCH="$(dpkg --print-architecture)"

docker info >/dev/null 2>&1 || die "no Docker engine answers: run scripts/docker-engine.sh (make engine) first"

needs_debian=0
for name in "${WANT[@]}"; do
    [[ "$name" == busybox ]] || { image_is_current "$IMAGE_REPO:$name" || needs_debian=1; }
    if [[ "$name" == *-arm64 ]] && ! image_is_current "$IMAGE_REPO:$name" \
        && ! grep -qsx enabled /proc/sys/fs/binfmt_misc/qemu-aarch64; then
        die "$IMAGE_REPO:$name needs arm64 emulation: run scripts/emulation.sh (make emulation) first"
    fi
done
if [[ "$needs_debian" -eq 1 ]]; then
    command -v debootstrap >/dev/null 2>&1 || die "debootstrap missing: run scripts/docker-engine.sh (make engine) first"
    DEBIAN_MIRROR="${DEBIAN_MIRROR:-$(find_mirror)}"
    SECURITY_MIRROR="${SECURITY_MIRROR-$(find_security_mirror)}"
    [[ -n "$DEBIAN_MIRROR" ]] || die "no Debian mirror found in /etc/apt/sources.list{,.d/*}: set DEBIAN_MIRROR"
    log "mirror from apt sources: $DEBIAN_MIRROR${SECURITY_MIRROR:+ (security: $SECURITY_MIRROR)}"
fi
export DEBIAN_MIRROR SECURITY_MIRROR

mkdir -p "$LOG_DIR"
pids=()
names=()
for name in "${WANT[@]}"; do
    if [[ "$name" == busybox ]]; then
        build_busybox
        continue
    fi
    if image_is_current "$IMAGE_REPO:$name"; then
        log "$IMAGE_REPO:$name: present (recipe $RECIPE), skipped"
        continue
    fi
    log "$IMAGE_REPO:$name: building in the background (log: build/images/$name.log)"
    (build_debian "$name") >"$LOG_DIR/$name.log" 2>&1 &
    pids+=("$!")
    names+=("$name")
done

failed=0
for i in "${!pids[@]}"; do
    if wait "${pids[$i]}"; then
        grep '^base-images:' "$LOG_DIR/${names[$i]}.log" >&2 || true
    else
        failed=1
        log "$IMAGE_REPO:${names[$i]}: FAILED; last lines of build/images/${names[$i]}.log:"
        tail -n 40 "$LOG_DIR/${names[$i]}.log" >&2 || true
    fi
done
[[ "$failed" -eq 0 ]] || die "image build failed"
docker image ls --format '{{.Repository}}:{{.Tag}}  {{.Size}}' | grep -E "^(${IMAGE_REPO}|${BUSYBOX_IMAGE%%:*}):" >&2 || true
