#!/usr/bin/env bash
# Run `ansible-test sanity` on the collection.
#
# ansible-test wants the collection under .../ansible_collections/<ns>/<name>,
# and the repository root is the collection root, so the files git knows about
# (tracked, plus untracked but not ignored: works before a commit) are copied
# into build/sanity/ansible_collections/groundwork/infra. That copy gets its
# own `git init` (no commit): otherwise ansible-test would find the outer
# repository, in which build/ is ignored, and see no files at all.
#
# ansible-test --venv bootstraps pip in each virtual environment with a script
# it downloads from a host these machines cannot reach, unless a cached copy
# exists; a stand-in that uses ensurepip + pip from the package index is
# written there first (see shared docs/test-infrastructure.md).
#
# Environment:
#   VENV                   the project's virtual environment (default <repo>/.venv)
#   SANITY_PYTHONS         Python versions for the full sanity run (default 3.11,
#                          the controller's)
#   SANITY_TARGET_PYTHONS  more versions for the target-side tests only
#                          (compile, import: modules and module_utils run on
#                          managed hosts, tests/config.yml says >=3.9);
#                          default "3.9 3.13"; a version not installed is
#                          skipped with a warning; "" turns this off
#   SANITY_ARGS            extra arguments for ansible-test sanity (e.g. "--test pep8")
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"
SANITY_PYTHONS="${SANITY_PYTHONS:-3.11}"
SANITY_TARGET_PYTHONS="${SANITY_TARGET_PYTHONS-3.9 3.13}"
COPY="$ROOT/build/sanity/ansible_collections/groundwork/infra"

log() { printf 'sanity: %s\n' "$*" >&2; }

[[ -x "$VENV/bin/ansible-test" ]] || { log "no $VENV/bin/ansible-test: run scripts/venv.sh (make venv) first"; exit 1; }

# ---- pip bootstrap stand-in ------------------------------------------------
ansible_test_dir="$("$VENV/bin/python" -c 'import ansible_test, os; print(os.path.dirname(ansible_test.__file__))')"
pip_version="$(grep -oP "\bpip='\K[0-9][0-9.]*(?=')" "$ansible_test_dir/_internal/python_requirements.py" | head -n1)"
[[ -n "$pip_version" ]] || { log "cannot find the pip version ansible-test bootstraps"; exit 1; }
cache_dir="$HOME/.ansible/test/cache"
get_pip="$cache_dir/get_pip_${pip_version//./_}.py"
mkdir -p "$cache_dir"
cat >"$get_pip.tmp" <<'PY'
"""Stand-in for get-pip.py, written by groundwork.infra scripts/sanity.sh.

ansible-test runs this as __main__ with pip's arguments (for example
"pip==24.2 setuptools==... --no-setuptools --no-wheel") to put pip into a
fresh virtual environment. The real script is downloaded from a host that
cannot be reached here; this one uses ensurepip, then pip itself.
"""
import ensurepip
import os
import subprocess
import sys

ensurepip.bootstrap(upgrade=True)
# ensurepip points PIP_CONFIG_FILE at /dev/null, which would hide this
# machine's pip configuration (index, CA certificate) from the next step.
os.environ.pop("PIP_CONFIG_FILE", None)
args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
packages = [a for a in args if not a.startswith("-")]
if packages:
    sys.exit(subprocess.call([sys.executable, "-m", "pip", "install"] + args))
PY
mv "$get_pip.tmp" "$get_pip"

# ---- copy of the collection ------------------------------------------------
rm -rf "$COPY"
mkdir -p "$COPY"
(
    cd "$ROOT"
    # Only files that exist (a tracked file deleted in the work tree is skipped).
    git ls-files -z --cached --others --exclude-standard |
        while IFS= read -r -d '' f; do [[ -e "$f" || -L "$f" ]] && printf '%s\0' "$f"; done |
        tar --null -T - -cf - |
        tar -C "$COPY" -xf -
)
git -C "$COPY" init -q
log "copied $(git -C "$COPY" ls-files --others --exclude-standard | wc -l) files to ${COPY#"$ROOT/"}"

# ---- interpreters ------------------------------------------------------------
# ansible-test finds "python3.X" on PATH. The Makefile leaves pyenv's shims out
# of PATH (they break Ansible's interpreter discovery), so add the bin
# directory of an installed pyenv version for a Python that is not on PATH.
find_python() {
    local v="$1" d
    command -v "python$v" >/dev/null 2>&1 && return 0
    for d in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$v".*/bin; do
        if [[ -x "$d/python$v" ]]; then
            PATH="$PATH:$d"
            return 0
        fi
    done
    return 1
}
for v in $SANITY_PYTHONS; do
    find_python "$v" || { log "python$v not found (SANITY_PYTHONS=$SANITY_PYTHONS)"; exit 1; }
done
target_pythons=()
for v in $SANITY_TARGET_PYTHONS; do
    if find_python "$v"; then
        target_pythons+=("$v")
    else
        log "WARNING: python$v not installed: target-side sanity (compile, import) skipped for it"
    fi
done
export PATH

# ---- run -------------------------------------------------------------------
cd "$COPY"
# Sanity output is long: keep it, and show the errors at the end.
mkdir -p "$ROOT/build/reports"
report="$ROOT/build/reports/sanity.txt"
: >"$report"
status=0
run_sanity() {
    log "ansible-test sanity --venv $*"
    "$VENV/bin/ansible-test" sanity --venv --color no "$@" 2>&1 | tee -a "$report" || status=$?
}
for v in $SANITY_PYTHONS; do
    # shellcheck disable=SC2086  # SANITY_ARGS is a list of words on purpose
    run_sanity --python "$v" ${SANITY_ARGS:-}
done
for v in "${target_pythons[@]}"; do
    run_sanity --python "$v" --test compile --test import
done
if [[ "$status" -ne 0 ]]; then
    log "FAILED (exit $status); errors:"
    grep -E '^(ERROR|FATAL)' "$report" >&2 || true
    exit "$status"
fi
log "passed"
