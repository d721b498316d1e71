#!/usr/bin/env bash
# Build the images of hosts reached over SSH: groundwork/lab-ssh:<release> is
# groundwork/debian-systemd:<release> (scripts/base-images.sh) plus openssh-server
# (scripts/ssh-user.sh --install-only), with no host keys and sshd not enabled, so
# that every container makes its own host key when ssh-user.sh sets it up.
# Built once and kept (apt-get under emulation takes about a minute): the label
# org.groundwork.lab-ssh names the script and the base image it was made from,
# so a change to either rebuilds it. Prints the tag of each image, one a line.
#
# Used by scripts/demo.sh (the lab) and by `make images` (bookworm, trixie and
# bookworm-arm64, for the molecule scenarios that reach their instances over SSH;
# molecule/k3s's emulated arm64 node runs bookworm-arm64).
#
# Usage: scripts/lab-ssh-images.sh RELEASE...   (bookworm, trixie, bookworm-arm64)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
[[ $# -gt 0 ]] || { echo "usage: scripts/lab-ssh-images.sh RELEASE..." >&2; exit 2; }

for release in "$@"; do
    base="groundwork/debian-systemd:$release" tag="groundwork/lab-ssh:$release" builder="lab-ssh-build-$release"
    recipe="$(sha256sum scripts/ssh-user.sh | cut -c1-16)-$(docker image inspect -f '{{.Id}}' "$base" | cut -c8-23)"
    if [[ "$(docker image inspect -f '{{index .Config.Labels "org.groundwork.lab-ssh"}}' "$tag" 2>/dev/null || true)" != "$recipe" ]]; then
        docker rm -f "$builder" >/dev/null 2>&1 || true
        # No host keys and sshd not enabled in the image: every host makes its own key.
        docker run -i --name "$builder" "$base" sh -c 'sh -s -- --install-only && rm -f /etc/ssh/ssh_host_*_key* \
            && systemctl disable ssh >/dev/null 2>&1 && apt-get clean' <scripts/ssh-user.sh >&2
        docker commit --change "LABEL org.groundwork.lab-ssh=$recipe" "$builder" "$tag" >/dev/null
        docker rm "$builder" >/dev/null
    fi
    echo "$tag"
done
