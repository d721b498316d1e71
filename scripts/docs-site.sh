#!/usr/bin/env bash
# Build the collection's documentation site with antsibull-docs and Sphinx,
# the way docs.ansible.com renders collections, into build/docs-site/.
#
#   1. antsibull-docs lint-collection-docs --plugin-docs: markup (O(), M(),
#      RV(), ...) and schema of every module's and role's documentation;
#   2. antsibull-docs sphinx-init + collection: one RST page per module and role;
#   3. sphinx-build: the HTML site in build/docs-site/build/html.
#
# Offline: the intersphinx inventories of docs.python.org and docs.ansible.com
# cannot be fetched here, so intersphinx is off and references to pages
# outside this collection (ansible.builtin modules, "common return values")
# stay unresolved. Those warnings are the only ones accepted; any other
# warning (a broken reference inside groundwork.infra, bad RST) fails.
#
# Environment:
#   DOCS_VENV  virtualenv with requirements/docs.txt (default <repo>/.venv-docs)
#   ANSIBLE_COLLECTIONS_PATH  must find groundwork.infra (the Makefile sets it)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DOCS_VENV="${DOCS_VENV:-$ROOT/.venv-docs}"
DEST="$ROOT/build/docs-site"
export PATH="$DOCS_VENV/bin:$PATH"

log() { printf 'docs-site: %s\n' "$*" >&2; }

[[ -x "$DOCS_VENV/bin/antsibull-docs" ]] || { log "no $DOCS_VENV/bin/antsibull-docs: run make docs-venv first"; exit 1; }

start=$SECONDS
log "lint-collection-docs"
antsibull-docs lint-collection-docs --plugin-docs --validate-collection-refs self "$ROOT"

rm -rf "$DEST"
mkdir -p "$(dirname "$DEST")"
mkdir -m 0755 "$DEST"
log "sphinx-init"
antsibull-docs sphinx-init --use-current --fail-on-error --dest-dir "$DEST" groundwork.infra >/dev/null
printf '\n# groundwork.infra: built offline, no intersphinx inventories.\nintersphinx_mapping = {}\n' >>"$DEST/conf.py"

cd "$DEST"
mkdir -p rst
chmod og-w rst
log "collection RST"
antsibull-docs --config-file antsibull-docs.cfg collection --cleanup everything --fail-on-error \
    --use-current --dest-dir rst groundwork.infra
log "sphinx-build"
sphinx-build -M html rst build -c . -q -w warnings.txt 2>sphinx-build.log

"$DOCS_VENV/bin/python" - warnings.txt <<'PY'
import re
import sys

ACCEPTED = re.compile(r"WARNING: undefined label: '(?P<label>[^']+)' \[ref\.ref\]$")
bad = []
with open(sys.argv[1], encoding="utf-8") as handle:
    for line in handle:
        line = line.rstrip("\n")
        if "WARNING" not in line and "ERROR" not in line:
            continue
        match = ACCEPTED.search(line)
        if match and not match.group("label").startswith("ansible_collections.groundwork.infra."):
            continue
        bad.append(line)
if bad:
    print("docs-site: sphinx warnings about this collection's documentation:", file=sys.stderr)
    print("\n".join(bad), file=sys.stderr)
    sys.exit(1)
PY
[[ -f build/html/collections/groundwork/infra/index.html ]] || { log "no collection index page was built"; exit 1; }
log "ok: $DEST/build/html/collections/groundwork/infra/index.html ($((SECONDS - start))s)"
