#!/bin/sh
# Make a Debian host reachable over SSH as a non-root user with sudo, as a real
# home-lab host is: runs ON the host, as root.
#   ssh-user.sh --install-only          install openssh-server (when missing), nothing else
#   ssh-user.sh USER 'PUBLIC KEY LINE'  the same, then the user USER with passwordless sudo
#                                       and that key, and sshd running
# Used by scripts/demo.sh (docker exec -i HOST sh -s -- ... <ssh-user.sh; it also runs
# --install-only once to build the lab's cached groundwork/lab-ssh:* images) and by
# molecule/compose_app/prepare.yml (ansible.builtin.script). Idempotent. Host keys:
# when none exist (the lab images are built without them, so each host has its
# own), only an ed25519 key is made; RSA key generation is slow under emulation.
set -eu

if [ ! -x /usr/sbin/sshd ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends openssh-server >/dev/null
fi
[ "${1:-}" = "--install-only" ] && exit 0

user="${1:?usage: ssh-user.sh USER 'PUBLIC KEY LINE' (or --install-only)}"
key="${2:?usage: ssh-user.sh USER 'PUBLIC KEY LINE'}"
if ! ls /etc/ssh/ssh_host_*_key >/dev/null 2>&1; then
    ssh-keygen -q -t ed25519 -N "" -f /etc/ssh/ssh_host_ed25519_key
fi
id "$user" >/dev/null 2>&1 || useradd -m -s /bin/bash "$user"
echo "$user ALL=(ALL:ALL) NOPASSWD: ALL" >"/etc/sudoers.d/90-$user"
chmod 0440 "/etc/sudoers.d/90-$user"
home="$(getent passwd "$user" | cut -d: -f6)"
install -d -m 0700 -o "$user" -g "$user" "$home/.ssh"
printf '%s\n' "$key" >"$home/.ssh/authorized_keys"
chown "$user:" "$home/.ssh/authorized_keys"
chmod 0600 "$home/.ssh/authorized_keys"
systemctl enable ssh >/dev/null 2>&1
systemctl restart ssh
