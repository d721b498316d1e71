#!/usr/bin/env bash
# make demo-next: the next release of the demo, to try an upgrade on the lab that
# `make demo` left running. Builds release 2026.11.1 (hello-svc 1.1.0, everything
# else as in 2026.11.0), signed with the demo key, into build/demo/www/demo-next,
# then (with --serve) serves build/demo/www on 127.0.0.1:18081 in the background
# and prints the dry run and the upgrade commands. tests/e2e builds its upgrade
# release with this script (without --serve; it runs its own server).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"
DEMO="$ROOT/build/demo"
PORT=18081
NEXT=2026.11.1
SITE="$(echo "$VENV"/lib/python3*/site-packages)"
export ANSIBLE_COLLECTIONS_PATH="$ROOT/build/collections:$SITE"
export ANSIBLE_PYTHON_INTERPRETER="$VENV/bin/python"
export PATH="$VENV/bin:$PATH"
cd "$ROOT"

die() { echo "demo-next: $*" >&2; exit 1; }
answers() { "$VENV/bin/python" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2).close()' "$1" 2>/dev/null; }

[[ -f "$DEMO/keys/demo.key" && -d "$DEMO/stage/hello-compose" ]] \
    || die "no demo key or stage under $DEMO: run make demo first"

# hello-svc 1.1.0: the demo's component with its version raised.
SRC="$DEMO/next-src"
rm -rf "$SRC"
mkdir -p "$SRC"
cp -a docs/examples/demo/components/hello-svc "$SRC/hello-svc"
sed -i 's/^VERSION = "1\.0\.0"$/VERSION = "1.1.0"/' "$SRC/hello-svc/lib/hello_svc.py"
grep -qx 'VERSION = "1.1.0"' "$SRC/hello-svc/lib/hello_svc.py" || die "could not raise the version of hello-svc"

# The release definition: the same, with the new release number and hello-svc 1.1.0 from $SRC.
sed -e "s/^groundwork_build_release: \"2026\.11\.0\"$/groundwork_build_release: \"$NEXT\"/" \
    -e '/^  - name: hello-svc$/{n;s/^    version: "1\.0\.0"$/    version: "1.1.0"/}' \
    -e "s#src: \"{{ playbook_dir }}/../docs/examples/demo/components/hello-svc\"#src: \"$SRC/hello-svc\"#" \
    docs/examples/demo/release.yml >"$SRC/release.yml"
{ grep -q "^groundwork_build_release: \"$NEXT\"$" "$SRC/release.yml" && grep -q '^    version: "1.1.0"$' "$SRC/release.yml" \
    && grep -q "src: \"$SRC/hello-svc\"" "$SRC/release.yml"; } || die "could not write the release definition $SRC/release.yml"

ansible-playbook playbooks/build.yml -e "@$SRC/release.yml" -e "groundwork_demo_stage=$DEMO/stage" \
    -e "groundwork_build_dest=$DEMO/www/demo-next" -e "groundwork_build_signing_key=$DEMO/keys/demo.key"

if [[ "${1:-}" == "--serve" ]]; then
    if ! { [[ -f "$DEMO/server.pid" ]] && kill -0 "$(cat "$DEMO/server.pid")" 2>/dev/null; }; then
        nohup "$VENV/bin/python" scripts/bundle_server.py --root "$DEMO/www" --port "$PORT" \
            --log "$DEMO/requests.jsonl" --pidfile "$DEMO/server.pid" >"$DEMO/server.log" 2>&1 &
        for _ in $(seq 50); do
            answers "http://127.0.0.1:$PORT/demo-next/manifest.yaml" && break
            sleep 0.2
        done
    fi
    answers "http://127.0.0.1:$PORT/demo-next/manifest.yaml" \
        || die "nothing serves $DEMO/www on 127.0.0.1:$PORT (see $DEMO/server.log)"
    cat <<MSG

Release $NEXT is served at http://127.0.0.1:$PORT/demo-next/manifest.yaml (stop the server: kill \$(cat $DEMO/server.pid)).
The dry run, then the upgrade:
  $VENV/bin/ansible-playbook -i inventories/lab playbooks/upgrade.yml -e bundle_manifest=http://127.0.0.1:$PORT/demo-next/manifest.yaml --check --diff
  $VENV/bin/ansible-playbook -i inventories/lab playbooks/upgrade.yml -e bundle_manifest=http://127.0.0.1:$PORT/demo-next/manifest.yaml
MSG
fi
