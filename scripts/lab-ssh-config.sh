#!/usr/bin/env bash
# Write the SSH client settings that reach lab containers as real home-lab hosts
# are reached: over SSH as a non-root user, with host key checking.
#   CONFIG       one `Host` entry per container (HostName: its address on its
#                Docker network, HostKeyAlias: its name), then, for those hosts,
#                User, IdentityFile, IdentitiesOnly, UserKnownHostsFile KNOWN_HOSTS,
#                StrictHostKeyChecking yes, BatchMode yes; `ssh -F CONFIG NAME`.
#   KNOWN_HOSTS  each container's ed25519 host key, read out of band with
#                `docker exec NAME cat /etc/ssh/ssh_host_ed25519_key.pub` (the check a
#                user makes on first contact): no key is ever accepted blindly.
# Both files mode 0600, each written atomically (temp file + mv) and only when its
# content or mode differs. Prints `changed PATH` or `unchanged PATH` for each file.
# Used by scripts/demo.sh (build/demo/ssh_config, inventories/lab),
# tests/e2e/test_airgap.py (build/airgap-inventory/ssh_config) and
# molecule/shared/ssh.yml (<ephemeral>/ssh/config of the molecule scenarios).
# sshd must already run in each container with its host key (scripts/ssh-user.sh).
set -euo pipefail

usage="usage: lab-ssh-config.sh CONFIG KNOWN_HOSTS USER IDENTITY_FILE CONTAINER..."
if [[ $# -lt 5 ]]; then
    echo "$usage" >&2
    exit 2
fi
config="$1" known_hosts="$2" user="$3" identity="$4"
shift 4
hosts=("$@")

# Absolute paths: ssh reads IdentityFile and UserKnownHostsFile relative to the
# caller's working directory, not to CONFIG.
abspath() { [[ "$1" == /* ]] && printf '%s\n' "$1" || printf '%s/%s\n' "$PWD" "$1"; }
identity="$(abspath "$identity")"
known_abs="$(abspath "$known_hosts")"
if [[ ! -f "$identity" ]]; then
    echo "lab-ssh-config.sh: the identity file $identity does not exist" >&2
    exit 1
fi

config_text="# Written by scripts/lab-ssh-config.sh (ssh -F $(abspath "$config") HOST)."
known_text=""
for name in "${hosts[@]}"; do
    # The first address of the container's networks (molecule's and the lab's hosts have one).
    addresses="$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}' "$name")" \
        || { echo "lab-ssh-config.sh: cannot inspect the container $name" >&2; exit 1; }
    read -r address _ <<<"$addresses" || true
    if [[ -z "${address:-}" ]]; then
        echo "lab-ssh-config.sh: the container $name has no address on any network" >&2
        exit 1
    fi
    key="$(docker exec "$name" cat /etc/ssh/ssh_host_ed25519_key.pub)" \
        || { echo "lab-ssh-config.sh: no ed25519 host key in $name (has scripts/ssh-user.sh run there?)" >&2; exit 1; }
    read -r key_type key_data _ <<<"$key" || true
    if [[ "$key_type" != ssh-ed25519 || -z "${key_data:-}" ]]; then
        echo "lab-ssh-config.sh: $name: /etc/ssh/ssh_host_ed25519_key.pub is not an ed25519 public key: $key" >&2
        exit 1
    fi
    known_text+="$name $key_type $key_data"$'\n'
    config_text+=$'\n'"Host $name"$'\n'"    HostName $address"$'\n'"    HostKeyAlias $name"
done
config_text+="
Host ${hosts[*]}
    User $user
    IdentityFile $identity
    IdentitiesOnly yes
    UserKnownHostsFile $known_abs
    StrictHostKeyChecking yes
    BatchMode yes
"

# write PATH TEXT: TEXT into PATH (mode 0600) through a temp file in the same
# directory, replaced only when its content or mode differs.
write() {
    local tmp
    if [[ -f "$1" && "$(stat -c %a "$1")" == 600 ]] && cmp -s "$1" <(printf '%s' "$2"); then
        echo "unchanged $1"
        return
    fi
    tmp="$(mktemp "$1.XXXXXX")"
    # shellcheck disable=SC2064  # expand now: the trap removes this temp file
    trap "rm -f '$tmp'" EXIT
    printf '%s' "$2" >"$tmp"
    chmod 0600 "$tmp"
    mv -f "$tmp" "$1"
    trap - EXIT
    echo "changed $1"
}
write "$known_hosts" "$known_text"
write "$config" "$config_text"
