# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The homelab sample inventory and its signing keys, read by the real ansible-inventory.

Ansible reads every file inside an inventory directory as an inventory source: the sample
keeps its keys beside the directory (``../keys``), and the checkout's ansible.cfg ignores
key files and a ``keys/`` directory that are inside one all the same.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PUB = "untrusted comment: minisign public key 4B1C9A8E2F3D7A60\nRWRgej0vjppcS0tYOmBq1cS5g1e6w0i3bmtQ5Q0r1vL3bR0d5c0l3m2K\n"


def inventory(path, config):
    """ansible-inventory --host of a sample host, with ``config`` (None: Ansible's defaults)."""
    if config is None:  # Ansible's own defaults: an empty configuration file
        config = path.parent / "empty.cfg"
        config.write_text("[defaults]\n", encoding="utf-8")
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_CONFIG=str(config))
    proc = subprocess.run([str(BIN / "ansible-inventory"), "-i", str(path), "--host", "pi-dns.home.arpa"],
                          capture_output=True, text=True, env=env, cwd=str(path.parent), timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc


def test_sample_keys_live_outside_the_inventory(tmp_path):
    lab = tmp_path / "homelab"
    shutil.copytree(ROOT / "inventories" / "homelab", lab)
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "release.pub").write_text(PUB, encoding="utf-8")
    # no project ansible.cfg: what a user with a copy of the sample gets
    proc = inventory(lab, None)
    assert "Unable to parse" not in proc.stderr, proc.stderr
    keys = json.loads(proc.stdout)["bundle_trusted_keys"]
    assert keys == ["{{ inventory_dir }}/../keys/release.pub"]
    # the path resolves, for a host of this inventory, to the key beside it
    resolved = keys[0].replace("{{ inventory_dir }}", str(lab))
    assert Path(resolved).resolve() == (tmp_path / "keys" / "release.pub").resolve()


def test_checkout_config_ignores_keys_inside_an_inventory(tmp_path):
    lab = tmp_path / "homelab"
    shutil.copytree(ROOT / "inventories" / "homelab", lab)
    (lab / "keys").mkdir()
    (lab / "keys" / "release.pub").write_text(PUB, encoding="utf-8")
    (lab / "release.pub").write_text(PUB, encoding="utf-8")
    without = inventory(lab, None)
    assert "Unable to parse" in without.stderr  # what the sample's old layout did
    proc = inventory(lab, ROOT / "ansible.cfg")
    assert "Unable to parse" not in proc.stderr, proc.stderr
    assert "Failed to parse" not in proc.stderr, proc.stderr
