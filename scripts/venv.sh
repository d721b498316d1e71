#!/usr/bin/env bash
# Create (or refresh) the project's virtual environment in .venv with the
# pinned test tool chain from requirements/.
#
# Idempotent: a stamp file inside .venv records a hash of the requirement
# files and the interpreter version; when it matches, nothing is done.
#
# Environment:
#   VENV    directory of the virtual environment (default: <repo>/.venv)
#   PYTHON  interpreter used to create it (default: python3.11, else python3)
#   VENV_REQUIREMENTS, VENV_CONSTRAINTS  requirement and lock files (default:
#           requirements/test.txt and requirements/constraints.txt; the docs
#           tool chain uses requirements/docs.txt and docs-constraints.txt)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"
REQ="${VENV_REQUIREMENTS:-$ROOT/requirements/test.txt}"
CONSTRAINTS="${VENV_CONSTRAINTS:-$ROOT/requirements/constraints.txt}"
STAMP="$VENV/.requirements.sha256"

log() { printf 'venv: %s\n' "$*" >&2; }

if [[ -z "${PYTHON:-}" ]]; then
    # Prefer a python3.11 that actually runs (a pyenv shim for a version that
    # is not active exists on PATH but fails when called).
    for candidate in python3.11 /usr/bin/python3.11 python3; do
        if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import venv, ensurepip' >/dev/null 2>&1; then
            PYTHON="$candidate"
            break
        fi
    done
fi
if [[ -z "${PYTHON:-}" ]]; then
    log "no usable python3.11 / python3 with the venv and ensurepip modules found"
    exit 1
fi

py_version="$("$PYTHON" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')"
want="$(cat "$REQ" "$CONSTRAINTS" | sha256sum | cut -d' ' -f1) python-$py_version"

if [[ -x "$VENV/bin/python" && -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]]; then
    log "$VENV is up to date"
    exit 0
fi

if [[ -x "$VENV/bin/python" ]]; then
    have_version="$("$VENV/bin/python" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])' 2>/dev/null || true)"
    if [[ "$have_version" != "$py_version" ]]; then
        log "recreating $VENV (python '$have_version' -> '$py_version')"
        rm -rf "$VENV"
    fi
fi

if [[ ! -x "$VENV/bin/python" ]]; then
    log "creating $VENV with $PYTHON ($py_version)"
    "$PYTHON" -m venv "$VENV"
fi

rm -f "$STAMP"
log "installing $(basename "$REQ") (locked by $(basename "$CONSTRAINTS"))"
"$VENV/bin/python" -m pip install --disable-pip-version-check --quiet \
    -r "$REQ" -c "$CONSTRAINTS"
"$VENV/bin/python" -m pip check >&2 || {
    log "pip check found broken dependencies in $VENV"
    exit 1
}
printf '%s\n' "$want" >"$STAMP"
log "ready: $("$VENV/bin/ansible" --version | head -n1)"
