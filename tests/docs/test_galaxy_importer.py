# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""galaxy-importer accepts the built tarball, as Galaxy would on upload.

Configured by galaxy-importer.cfg (ansible-doc on; ansible-test and ansible-lint
off because `make sanity` and `make lint` run them). galaxy-importer logs
problems and may still print "completed successfully", so the log is read too:
no ERROR line, no skipped step, and every module's documentation loaded.
"""

from __future__ import annotations

import json

from docskit import DOCS_VENV, GALAXY, ROOT, clean_env, docs_tool, run


def test_galaxy_importer_accepts_the_tarball(tmp_path, collection_tarball):
    env = clean_env(GALAXY_IMPORTER_CONFIG=str(ROOT / "galaxy-importer.cfg"),
                    PATH="%s:/usr/bin:/bin" % (DOCS_VENV / "bin"), HOME=str(tmp_path))
    proc = run([docs_tool("python"), "-m", "galaxy_importer.main", collection_tarball], tmp_path, env=env)
    log = proc.stdout + proc.stderr
    assert "Importer processing completed successfully" in log, log[-3000:]
    problems = [line for line in log.splitlines() if line.startswith(("ERROR", "WARNING"))]
    assert not problems, "\n".join(problems)
    result = json.loads((tmp_path / "importer_result.json").read_text(encoding="utf-8"))
    assert result["metadata"]["namespace"] == GALAXY["namespace"] and result["metadata"]["version"] == GALAXY["version"]
    modules = sorted(p.stem for p in (ROOT / "plugins" / "modules").glob("*.py"))
    documented = sorted(c["content_name"] for c in result["docs_blob"]["contents"]
                        if c["content_type"] == "module" and c.get("doc_strings"))
    assert documented == modules
    roles = sorted(p.name for p in (ROOT / "roles").iterdir() if p.is_dir())
    assert sorted(c["name"] for c in result["contents"] if c["content_type"] == "role") == roles
    assert result["docs_blob"]["collection_readme"]["name"] == "README.md"
