"""Make the collection importable as ansible_collections.groundwork.infra.

The repository root is the collection root. Tests import plugins through the
regular collection namespace, so a symlink build/collections/ansible_collections/
groundwork/infra -> repository root is created on first use (the Makefile makes
the same link for ansible-playbook and molecule).
"""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _collection_root():
    # Already inside an ansible_collections/<ns>/<name> tree (ansible-test copy)?
    if ROOT.parent.parent.name == "ansible_collections":
        return ROOT.parent.parent.parent
    base = ROOT / "build" / "collections"
    link = base / "ansible_collections" / "groundwork" / "infra"
    if not link.exists():
        link.parent.mkdir(parents=True, exist_ok=True)
        try:
            link.symlink_to(ROOT, target_is_directory=True)
        except FileExistsError:
            pass
    return base


_COLLECTIONS = str(_collection_root())
if _COLLECTIONS not in sys.path:
    sys.path.insert(0, _COLLECTIONS)
os.environ.setdefault("ANSIBLE_COLLECTIONS_PATH", _COLLECTIONS)
