# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Decisions of the groundwork.infra.cloud_bootstrap role, kept out of Jinja so that they can be tested.

- ``cloud_bootstrap_login``: the output of ``id`` -> the user and the groups of the connection.
- ``cloud_bootstrap_missing_keys``: the keys the admin user must have -> those not in its authorized_keys.
- ``cloud_bootstrap_swap_areas``: the content of /proc/swaps -> the active swap areas.
"""

from __future__ import annotations

import re

from ansible.errors import AnsibleFilterError

ID_USER = re.compile(r"^uid=[0-9]+\(([^)]+)\)")
ID_NAME = re.compile(r"[0-9]+\(([^)]+)\)")
KEY = re.compile(r"((?:ssh|ecdsa|sk)-\S+ +\S+)")


def cloud_bootstrap_login(id_output):
    """``uid=1000(ops) gid=1000(ops) groups=1000(ops),27(sudo)`` -> {user: ops, groups: [ops, sudo]}."""
    text = (id_output or "").strip()
    user = ID_USER.match(text)
    if not user:
        raise AnsibleFilterError("cloud_bootstrap: cannot read the login user from the output of id: %r" % text)
    groups = []
    for name in ID_NAME.findall(text.partition(" ")[2]):
        if name not in groups:
            groups.append(name)
    return {"user": user.group(1), "groups": groups}


def cloud_bootstrap_missing_keys(wanted, authorized_keys):
    """The wanted keys (type and base64 blob, the comment does not count) missing from authorized_keys."""
    present = set()
    for line in (authorized_keys or "").splitlines():
        found = KEY.search(line)
        if found and not line.lstrip().startswith("#"):
            present.add(" ".join(found.group(1).split()))
    missing = []
    for key in wanted or []:
        found = KEY.search(key)
        if not found:
            raise AnsibleFilterError("cloud_bootstrap: %r in cloud_bootstrap_admin_keys is not an SSH public key" % key[:40])
        if " ".join(found.group(1).split()) not in present:
            missing.append(key)
    return missing


def cloud_bootstrap_swap_areas(proc_swaps):
    """/proc/swaps (a header, then one area a line) -> the file names of the active swap areas."""
    lines = (proc_swaps or "").splitlines()
    if lines and not lines[0].startswith("Filename"):
        raise AnsibleFilterError("cloud_bootstrap: /proc/swaps does not start with its header: %r" % lines[0][:60])
    # Names with blanks are written as \040 by the kernel.
    return [line.split()[0].replace("\\040", " ") for line in lines[1:] if line.strip()]


class FilterModule(object):
    def filters(self):
        return {
            "cloud_bootstrap_login": cloud_bootstrap_login,
            "cloud_bootstrap_missing_keys": cloud_bootstrap_missing_keys,
            "cloud_bootstrap_swap_areas": cloud_bootstrap_swap_areas,
        }
