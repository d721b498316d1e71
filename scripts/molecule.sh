#!/usr/bin/env bash
# Run `molecule test` for every scenario directory molecule/<name>/ that has a
# molecule.yml (or only for the scenario names given as arguments), with the
# shared base config .config/molecule/config.yml. Keeps going after a failed
# scenario, then fails if any did.
#
# Usage: scripts/molecule.sh [SCENARIO...]
# Environment:
#   VENV                the project's virtual environment (default <repo>/.venv)
#   MOLECULE_PROJECT    directory that holds molecule/ (default: the repository)
#   MOLECULE_COMMAND    molecule subcommand (default: test)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"
PROJECT="${MOLECULE_PROJECT:-$ROOT}"
COMMAND="${MOLECULE_COMMAND:-test}"
BASE_CONFIG="$ROOT/.config/molecule/config.yml"
REPORT="$ROOT/build/reports/molecule.txt"

log() { printf 'molecule: %s\n' "$*" >&2; }

[[ -x "$VENV/bin/molecule" ]] || { log "no $VENV/bin/molecule: run scripts/venv.sh (make venv) first"; exit 1; }
docker info >/dev/null 2>&1 || { log "no Docker engine answers: run scripts/docker-engine.sh (make engine) first"; exit 1; }

cd "$PROJECT"
# Scenarios live in molecule/ at the collection root (not extensions/molecule).
export MOLECULE_GLOB="molecule/*/molecule.yml"

scenarios=("$@")
if [[ ${#scenarios[@]} -eq 0 ]]; then
    shopt -s nullglob
    for f in molecule/*/molecule.yml; do
        scenarios+=("$(basename "$(dirname "$f")")")
    done
    shopt -u nullglob
fi

mkdir -p "$(dirname "$REPORT")"
: >"$REPORT"
if [[ ${#scenarios[@]} -eq 0 ]]; then
    log "no scenarios under ${PROJECT}/molecule/ (nothing to run)"
    exit 0
fi

passed=0
failed=0
for s in "${scenarios[@]}"; do
    log "=== $s: molecule $COMMAND"
    start=$SECONDS
    if "$VENV/bin/molecule" --base-config "$BASE_CONFIG" "$COMMAND" -s "$s"; then
        passed=$((passed + 1))
        printf 'PASS %s %ss\n' "$s" "$((SECONDS - start))" | tee -a "$REPORT" >&2
    else
        failed=$((failed + 1))
        printf 'FAIL %s %ss\n' "$s" "$((SECONDS - start))" | tee -a "$REPORT" >&2
    fi
done
log "scenarios: $passed passed, $failed failed"
[[ "$failed" -eq 0 ]]
