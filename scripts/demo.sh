#!/usr/bin/env bash
# make demo: a local lab of systemd containers standing in for home-lab hosts,
# a signed demo release built and served on 127.0.0.1, then
#   ansible-playbook playbooks/deploy.yml -i inventories/lab
# Expects what `make demo` prepares first: .venv, a running Docker engine, the
# base images and the collection link under build/collections.
#
# The lab hosts are reached as real home-lab hosts are: over SSH as the non-root
# user "ops" with sudo and become (inventories/lab). Each host runs sshd with its
# own host key; scripts/lab-ssh-config.sh writes build/demo/ssh_config (one Host
# entry per lab host, with its address) and build/demo/known_hosts (the host keys,
# read from the containers: the out-of-band check a user does on first contact);
# this script makes the controller's key build/demo/keys/ssh. `docker exec` is used only to set a
# host up (sshd, the user) and to read its host key.
#
# The release carries busybox-httpd with per-architecture inputs: Debian's
# busybox-static, amd64 build (this machine's) and arm64 build (from the arm64
# image), in one signed release. lab-bookworm runs the amd64 build,
# lab-arm64-emulated (Debian arm64 under qemu-user emulation, a stand-in for a
# Raspberry Pi) the arm64 build; the demo ends with both answering.
# LAB_ARM64_EMULATED=0 leaves the arm64 host out (the playbooks then run with
# --limit '!emulated_hosts'); every module call there is several times slower
# (docs/lab.md), so the emulated host gets only busybox-httpd.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"
DEMO="$ROOT/build/demo"
PORT=18081
LAB_ARM64_EMULATED="${LAB_ARM64_EMULATED:-1}"
SSH_USER=ops
SITE="$(echo "$VENV"/lib/python3*/site-packages)"
export ANSIBLE_COLLECTIONS_PATH="$ROOT/build/collections:$SITE"
export ANSIBLE_PYTHON_INTERPRETER="$VENV/bin/python"
export PATH="$VENV/bin:$PATH"
cd "$ROOT"

log() { printf '\n== demo: %s\n' "$*"; }

mkdir -p "$DEMO/keys" "$DEMO/www"
chmod 700 "$DEMO/keys"
if [[ ! -f "$DEMO/keys/demo.key" ]]; then
    log "generating the demo signing key with minisign"
    minisign -G -W -p "$DEMO/keys/demo.pub" -s "$DEMO/keys/demo.key" >/dev/null
fi

log "staging the hello-compose project and its image (docker save of a local image)"
# Staged once and kept: the same version must always have the same bytes.
STAGE="$DEMO/stage"
if [[ ! -f "$STAGE/hello-compose/images/hello-compose-1.0.0.tar" ]]; then
    rm -rf "$STAGE/hello-compose"
    mkdir -p "$STAGE/hello-compose/images"
    cp -R docs/examples/demo/components/hello-compose/. "$STAGE/hello-compose/"
    docker tag groundwork/busybox:local groundwork/hello-compose:1.0.0
    docker save -o "$STAGE/hello-compose/images/hello-compose-1.0.0.tar" groundwork/hello-compose:1.0.0
    docker rmi groundwork/hello-compose:1.0.0 >/dev/null
fi

log "staging busybox-httpd: Debian's busybox-static, its amd64 and its arm64 build"
# amd64: this machine's /bin/busybox (host package busybox-static); arm64: /bin/busybox of
# the arm64 image, which debootstrap installed from Debian's arm64 busybox-static. The
# two must be the same Debian version. Staged once and kept, as hello-compose. That each
# is an ELF program of its architecture is bundle_build's check (threat 27), not ours.
BUSYBOX_ARM64_IMAGE=groundwork/debian-systemd:bookworm-arm64
if [[ ! -f "$STAGE/busybox-httpd/arm64/bin/busybox" ]]; then
    rm -rf "$STAGE/busybox-httpd"
    version_amd64="$(dpkg-query -W -f '${Version}' busybox-static)"
    version_arm64="$(docker run --rm "$BUSYBOX_ARM64_IMAGE" dpkg-query -W -f '${Version}' busybox-static)"
    if [[ "$version_amd64" != "$version_arm64" ]]; then
        echo "demo: busybox-static $version_amd64 (amd64, this machine) and $version_arm64 ($BUSYBOX_ARM64_IMAGE) differ" >&2
        exit 1
    fi
    for arch in amd64 arm64; do
        mkdir -p "$STAGE/busybox-httpd.tmp/$arch/bin" "$STAGE/busybox-httpd.tmp/$arch/share"
        printf 'busybox-httpd: Debian busybox-static %s, %s build\n' "$version_amd64" "$arch" \
            >"$STAGE/busybox-httpd.tmp/$arch/share/index.html"
    done
    cp /bin/busybox "$STAGE/busybox-httpd.tmp/amd64/bin/busybox"
    cid="$(docker create "$BUSYBOX_ARM64_IMAGE" /bin/true)"
    docker cp "$cid:/bin/busybox" "$STAGE/busybox-httpd.tmp/arm64/bin/busybox"
    docker rm "$cid" >/dev/null
    mv "$STAGE/busybox-httpd.tmp" "$STAGE/busybox-httpd"
fi

log "building and signing the demo release"
ansible-playbook playbooks/build.yml -e @docs/examples/demo/release.yml -e "groundwork_demo_stage=$STAGE" \
    -e "groundwork_build_dest=$DEMO/www/demo" -e "groundwork_build_signing_key=$DEMO/keys/demo.key"

log "serving $DEMO/www on http://127.0.0.1:$PORT/"
if [[ -f "$DEMO/server.pid" ]] && kill -0 "$(cat "$DEMO/server.pid")" 2>/dev/null; then
    kill "$(cat "$DEMO/server.pid")" || true
    sleep 0.5
fi
"$VENV/bin/python" scripts/bundle_server.py --root "$DEMO/www" --port "$PORT" \
    --log "$DEMO/requests.jsonl" --pidfile "$DEMO/server.pid" >"$DEMO/server.log" 2>&1 &
trap 'kill "$(cat "$DEMO/server.pid" 2>/dev/null)" 2>/dev/null || true' EXIT
for _ in $(seq 50); do
    curl -fsS -o /dev/null "http://127.0.0.1:$PORT/demo/manifest.yaml" 2>/dev/null && break
    sleep 0.2
done
# Another process on the port would serve someone else's release: make sure it is ours.
if ! kill -0 "$(cat "$DEMO/server.pid" 2>/dev/null)" 2>/dev/null \
        || ! curl -fsS "http://127.0.0.1:$PORT/demo/manifest.yaml" | cmp -s - "$DEMO/www/demo/manifest.yaml"; then
    echo "demo: could not serve $DEMO/www on 127.0.0.1:$PORT (is another server using the port?)" >&2
    cat "$DEMO/server.log" >&2 || true
    exit 1
fi

log "starting the lab hosts"
# The capability set that runs systemd in a container (see
# ../shared/docs/test-infrastructure.md); lab-trixie, the compose host, also
# runs Docker Engine inside, which needs more capabilities and /var/lib/docker
# on a volume (overlay2 cannot sit on the container's own overlay filesystem).
# lab-arm64-emulated runs Debian's arm64 build of everything under qemu-user
# (scripts/emulation.sh registered it with binfmt_misc; make images built its image).
SYSTEMD_OPTS=(--security-opt seccomp=unconfined --security-opt apparmor=unconfined
    --cgroupns=host -v /sys/fs/cgroup:/sys/fs/cgroup:rw --tmpfs /run --tmpfs /run/lock)
DOCKER_CAPS=(--cap-add NET_ADMIN --cap-add NET_RAW --cap-add SYS_PTRACE --cap-add MKNOD
    --cap-add AUDIT_WRITE --cap-add SETFCAP --cap-add SYS_MODULE -v /var/lib/docker)
LAB_HOSTS=(lab-bookworm lab-trixie)
LAB_SPECS=(lab-bookworm:bookworm lab-trixie:trixie)
LIMIT=(--limit '!emulated_hosts')
if [[ "$LAB_ARM64_EMULATED" == 1 ]]; then
    LAB_HOSTS+=(lab-arm64-emulated)
    LAB_SPECS+=(lab-arm64-emulated:bookworm-arm64)
    LIMIT=()
fi
# Each lab host starts from groundwork/lab-ssh:<release>: the base image plus
# openssh-server, built once and kept by scripts/lab-ssh-images.sh (`make images`
# builds all three; `make demo` alone builds what the lab lacks here).
for spec in "${LAB_SPECS[@]}"; do
    name="${spec%%:*}"; release="${spec##*:}"
    extra=()
    [[ "$name" == lab-trixie ]] && extra=("${DOCKER_CAPS[@]}")
    image="$(scripts/lab-ssh-images.sh "$release")"
    if [[ "$(docker inspect -f '{{.State.Running}}' "$name" 2>/dev/null || true)" != "true" ]]; then
        docker rm -f -v "$name" >/dev/null 2>&1 || true
        docker run -d --name "$name" --hostname "$name" --cap-add SYS_ADMIN "${SYSTEMD_OPTS[@]}" "${extra[@]}" \
            "$image" /lib/systemd/systemd >/dev/null
        rm -rf "$DEMO/cp"  # SSH connections kept open to the container this one replaces
    fi
done
[[ -f "$DEMO/keys/ssh" ]] || ssh-keygen -q -t ed25519 -N "" -C "$SSH_USER@groundwork-demo" -f "$DEMO/keys/ssh"
for name in "${LAB_HOSTS[@]}"; do
    for _ in $(seq 60); do
        state="$(docker exec "$name" systemctl is-system-running 2>/dev/null || true)"
        [[ "$state" == "running" || "$state" == "degraded" ]] && break
        sleep 1
    done
    echo "$name: systemd $state ($(docker exec "$name" uname -m))"
    # A booted host has / shared; Docker starts a container with / private, and
    # systemd then cannot hand LoadCredential= files to a service. Lab only.
    docker exec "$name" mount --make-rshared /
    # Set-up: sshd, the user with sudo and the controller's key.
    docker exec -i "$name" sh -s -- "$SSH_USER" "$(cat "$DEMO/keys/ssh.pub")" <scripts/ssh-user.sh
done
# ssh_config (each host's address) and known_hosts (each host key, read with docker exec).
scripts/lab-ssh-config.sh "$DEMO/ssh_config" "$DEMO/known_hosts" "$SSH_USER" "$DEMO/keys/ssh" "${LAB_HOSTS[@]}"
for name in "${LAB_HOSTS[@]}"; do
    for _ in $(seq 30); do
        ssh -F "$DEMO/ssh_config" "$name" true 2>/dev/null && break
        sleep 1
    done
    echo "$name: ssh as $(ssh -F "$DEMO/ssh_config" "$name" 'echo "$(id -un), sudo to $(sudo id -un)"')"
done

log "ansible-playbook playbooks/deploy.yml -i inventories/lab ${LIMIT[*]}"
start=$EPOCHREALTIME
ansible-playbook playbooks/deploy.yml -i inventories/lab "${LIMIT[@]}"
first=$(python3 -c "print(round($EPOCHREALTIME - $start, 2))")

log "the same command again: nothing to download, copy or change"
start=$EPOCHREALTIME
ansible-playbook playbooks/deploy.yml -i inventories/lab "${LIMIT[@]}" >"$DEMO/rerun.log" \
    || { cat "$DEMO/rerun.log"; echo "demo: the second run failed" >&2; exit 1; }
rerun="$(cat "$DEMO/rerun.log")"
second=$(python3 -c "print(round($EPOCHREALTIME - $start, 2))")
printf '%s\n' "$rerun" | sed -n '/PLAY RECAP/,$p'
changed=$(printf '%s\n' "$rerun" | sed -n '/PLAY RECAP/,$p' | grep -o 'changed=[0-9]*' | cut -d= -f2 \
          | python3 -c 'import sys; print(sum(int(x) for x in sys.stdin))')
printf '{"first_s": %s, "second_s": %s, "second_changed": %s}\n' "$first" "$second" "$changed" >"$DEMO/timings.json"
echo "first run ${first}s, second run ${second}s, changed on the second run: $changed"
if [[ "$changed" != "0" ]]; then
    echo "demo: the second run changed something: deploy.yml is not idempotent" >&2
    exit 1
fi

log "where each component version landed, on which architecture (over SSH, as ops)"
for name in "${LAB_HOSTS[@]}"; do
    ssh -F "$DEMO/ssh_config" "$name" 'arch="$(dpkg --print-architecture)"; for c in /opt/groundwork/bundles/*/current; do printf "%s (%s): %s -> %s\n" "$(hostname)" "$arch" "$c" "$(readlink -f "$c")"; done
        site=/opt/groundwork/bundles/hello-site/current/bin/hello-site; if [ -x "$site" ]; then "$site"; fi'
done

log "the deployed services answering over HTTP"
answer() {  # answer NAME HOST URL EXPECTED: print the answer, fail when it is not EXPECTED
    local got
    got="$(curl -fsS --max-time 5 --retry 10 --retry-delay 1 --retry-all-errors "$3" || true)"
    printf '%s (%s): %s\n' "$1" "$2" "${got:-no answer}"
    if [[ "$got" != *"$4"* ]]; then
        echo "demo: $1 on $2 did not answer with '$4'" >&2
        exit 1
    fi
}
ip_of() { docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$1"; }
answer "hello-svc, a systemd service" "lab-bookworm, amd64" "http://$(ip_of lab-bookworm):8080/" "hello-svc 1.0.0"
answer "hello-compose, a compose project" "lab-trixie, amd64" "http://$(ip_of lab-trixie):8080/" "hello-compose 1.0.0"
release="$(sed -n 's/^release: *"\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "$DEMO/www/demo/manifest.yaml")"
echo "busybox-httpd of release $release (one signed manifest, an artifact per architecture):"
answer "busybox-httpd, a systemd service" "lab-bookworm, amd64" "http://$(ip_of lab-bookworm):8082/" "amd64 build"
if [[ "$LAB_ARM64_EMULATED" == 1 ]]; then
    answer "busybox-httpd, a systemd service" "lab-arm64-emulated, arm64" "http://$(ip_of lab-arm64-emulated):8082/" "arm64 build"
fi
ssh -F "$DEMO/ssh_config" lab-bookworm sudo systemctl show hello-svc.service -p ActiveState -p NoNewPrivileges -p ProtectSystem -p MainPID
exposure="$(ssh -F "$DEMO/ssh_config" lab-bookworm sudo systemd-analyze security --no-pager hello-svc.service | sed -n 's/.*Overall exposure level for [^:]*: //p')"
echo "systemd-analyze security hello-svc.service: $exposure"
if ! python3 -c 'import sys; sys.exit(float(sys.argv[1].split()[0]) > 2.0)' "$exposure"; then
    echo "demo: hello-svc's exposure is above 2.0 (the role's goal: OK or better)" >&2
    exit 1
fi
ssh -F "$DEMO/ssh_config" lab-trixie sudo docker compose ls
echo
echo "The lab keeps running: ssh -F build/demo/ssh_config lab-bookworm   (remove it with: make demo-clean)"
if [[ "$LAB_ARM64_EMULATED" != 1 ]]; then
    echo "Without its emulated arm64 host (LAB_ARM64_EMULATED=1, the default, adds it): give playbooks --limit '!emulated_hosts'"
fi
