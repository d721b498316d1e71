#!/usr/bin/env bash
# Build the Debian packages of Docker Engine and Compose into a directory that a
# bundle component of kind `files` carries to hosts with no apt source at all
# (groundwork.infra.docker_host with docker_host_source: bundle installs from it).
#
#   scripts/package-bundle.sh download RELEASE DIR [PACKAGE...]
#       Resolve and download, with apt itself, the packages and every dependency
#       that a minimal Debian RELEASE (bookworm, trixie, ...) lacks: a throw-away
#       container of groundwork/debian-systemd:RELEASE (the same minimal Debian the
#       hosts run, built by scripts/base-images.sh from this machine's apt mirror)
#       runs `apt-get install --download-only` into an empty package cache, so apt
#       picks the set exactly as it would on such a host. Then indexes DIR (below).
#       PACKAGE defaults to what docker_host installs from Debian: docker.io,
#       docker-cli (Debian 13 and later), docker-compose, python3-requests, python3-yaml.
#   scripts/package-bundle.sh index DIR
#       Name every .deb in DIR PACKAGE_VERSION_ARCH.deb with the bundle format's
#       file name characters (letters, digits, . _ + -): the `~` and `:` of Debian
#       versions are written `_7e` and `_3a` (percent-encoding with `_` for `%`;
#       Debian names and versions never hold `_`), so the signed manifest names each
#       package's version (docker_host reads it there), then write DIR/Packages
#       (dpkg-scanpackages): with it DIR is a flat apt repository, `deb [trusted=yes]
#       file:DIR ./`. Prints the engine and Compose versions found.
#
# trusted=yes is safe here because apt never sees an unverified file: the bundle
# (manifest signed with minisign, a sha256 and size for every .deb and for
# Packages) is verified by groundwork.infra.bundle_fetch before it lands on the
# host, and apt checks each .deb against the hashes in Packages.
#
# Environment: IMAGE_REPO (default groundwork/debian-systemd), the image of RELEASE.
set -euo pipefail

IMAGE_REPO="${IMAGE_REPO:-groundwork/debian-systemd}"

die() { printf 'package-bundle: ERROR: %s\n' "$*" >&2; exit 1; }

index() {
    local dir="$1"
    [[ -d "$dir" ]] || die "$dir is not a directory"
    compgen -G "$dir/*.deb" >/dev/null || die "no .deb file in $dir"
    command -v dpkg-scanpackages >/dev/null || die "dpkg-scanpackages not found (Debian package dpkg-dev)"
    local deb fields name
    for deb in "$dir"/*.deb; do
        fields="$(dpkg-deb -f "$deb" Package Version Architecture)" || die "$deb is not a Debian package"
        name="$(printf '%s\n' "$fields" | awk -F': ' '
            $1 == "Package" { p = $2 } $1 == "Version" { v = $2 } $1 == "Architecture" { a = $2 }
            END { gsub(/~/, "_7e", v); gsub(/:/, "_3a", v); printf "%s_%s_%s.deb", p, v, a }')"
        [[ "$deb" == "$dir/$name" ]] || mv -f "$deb" "$dir/$name"
    done
    (cd "$dir" && dpkg-scanpackages --multiversion . /dev/null 2>/dev/null >Packages)
    local n
    n="$(grep -c '^Package: ' "$dir/Packages")"
    printf 'package-bundle: %s: Packages indexes %s package(s)\n' "$dir" "$n"
    awk '/^Package: /{p=$2} /^Version: /{if (p ~ /^(docker\.io|docker-ce|docker-compose|docker-compose-plugin)$/) printf "package-bundle:   %s %s\n", p, $2}' "$dir/Packages"
}

download() {
    local release="$1" dir="$2"; shift 2
    local packages=("$@")
    if [[ ${#packages[@]} -eq 0 ]]; then
        packages=(docker.io docker-compose python3-requests python3-yaml)
        [[ "$release" == bookworm || "$release" == bullseye ]] || packages+=(docker-cli)
    fi
    docker image inspect "$IMAGE_REPO:$release" >/dev/null 2>&1 \
        || die "no image $IMAGE_REPO:$release (make images builds the base images)"
    mkdir -p "$dir"
    dir="$(cd "$dir" && pwd)"
    rm -f "$dir"/*.deb "$dir/Packages"
    # --no-install-recommends: docker_host installs without recommends too.
    docker run --rm -v "$dir:/out" "$IMAGE_REPO:$release" sh -euc '
        mkdir -p /var/tmp/debs/partial
        apt-get update -qq
        apt-get install -qq -y --no-install-recommends --download-only -o Dir::Cache::archives=/var/tmp/debs "$@" >/dev/null
        cp /var/tmp/debs/*.deb /out/
        chown '"$(id -u):$(id -g)"' /out/*.deb' sh "${packages[@]}"
    index "$dir"
}

case "${1:-}" in
    download) [[ $# -ge 3 ]] || die "usage: $0 download RELEASE DIR [PACKAGE...]"; shift; download "$@" ;;
    index) [[ $# -eq 2 ]] || die "usage: $0 index DIR"; index "$2" ;;
    *) die "usage: $0 download RELEASE DIR [PACKAGE...] | index DIR" ;;
esac
