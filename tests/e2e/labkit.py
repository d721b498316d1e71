# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Helpers shared by the lab tests: paths, running playbooks, reading a PLAY RECAP."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "build" / "demo"
BIN = Path(sys.executable).parent
PORT = 18081
BASE = "http://127.0.0.1:%d" % PORT
# lab-arm64-emulated: Debian arm64 under qemu-user emulation (scripts/emulation.sh), in the
# lab unless scripts/demo.sh ran with LAB_ARM64_EMULATED=0 (the tests then run with it too).
ARM64_EMULATED = os.environ.get("LAB_ARM64_EMULATED", "1") == "1"
# The amd64 hosts: the lab tests (test_lab.py) drive the playbooks on these. The emulated
# host is trimmed to what proves the arm64 point (test_arm64.py): every module call there
# costs several times an amd64 one (docs/lab.md).
AMD64_HOSTS = ("lab-bookworm", "lab-trixie")
HOSTS = AMD64_HOSTS + (("lab-arm64-emulated",) if ARM64_EMULATED else ())
# The hosts that run hello-svc, sorted.
SYSTEMD_HOSTS = ("lab-bookworm",)
# The lab's SSH client settings, written by scripts/demo.sh (inventories/lab reads them).
SSH_CONFIG = DEMO / "ssh_config"


def run(*args, check=True, env=None, stdin=None):
    """Run ARGS in the checkout; STDIN: a file to read standard input from."""
    proc = subprocess.run(args, cwd=str(ROOT), env=env, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, timeout=900, check=False)
    if check and proc.returncode != 0:
        raise AssertionError("%s failed (rc=%d):\n%s" % (" ".join(args), proc.returncode, proc.stdout[-6000:]))
    return proc


def ansible_env():
    env = dict(os.environ)
    env.setdefault("ANSIBLE_PYTHON_INTERPRETER", sys.executable)
    env["PATH"] = "%s:%s" % (BIN, env.get("PATH", ""))
    return env


def playbook(name, *extra, check=True):
    """ansible-playbook on inventories/lab (over SSH as ops, with become), on the amd64 hosts
    (a --limit in EXTRA narrows it)."""
    extra = list(extra)
    if "--limit" in extra:
        extra[extra.index("--limit") + 1] += ":!emulated_hosts"
    else:
        extra += ["--limit", "!emulated_hosts"]
    return run(str(BIN / "ansible-playbook"), "playbooks/%s" % name, "-i", "inventories/lab", *extra, check=check,
               env=ansible_env())


def recap(output):
    """{host: {ok: n, changed: n, failed: n, ...}} from a PLAY RECAP."""
    out = {}
    for line in output.split("PLAY RECAP", 1)[-1].splitlines():
        match = re.match(r"^(\S+)\s+:\s+(.*)$", line)
        if match:
            out[match.group(1)] = dict((k, int(v)) for k, v in re.findall(r"(\w+)=(\d+)", match.group(2)))
    return out


def http_get(host, port=8080):
    address = subprocess.run(
        ["docker", "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", host],
        stdout=subprocess.PIPE, universal_newlines=True, check=True).stdout.strip()
    last = None
    for dummy in range(20):
        try:
            with urllib.request.urlopen("http://%s:%d/" % (address, port), timeout=5) as resp:
                return resp.read().decode()
        except OSError as exc:
            last = exc
            time.sleep(1)
    raise AssertionError("%s:%d does not answer: %s" % (host, port, last))


def status(tmp_path):
    out = tmp_path / "status.json"
    proc = playbook("status.yml", "-e", "groundwork_status_json=%s" % out)
    rows = json.loads(out.read_text())["rows"]
    return proc, dict(((r["host"], r["component"]), r) for r in rows)
