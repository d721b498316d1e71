# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""``paths_wanted``: one description of the files and directories a role manages -> the wanted
state groundwork.infra.paths_info compares the host with.

A role describes each managed path once (path, type, mode, owner, group and, for a file, its
content); its ansible.builtin.file and copy tasks loop over the same description for the paths
paths_info reports in ``differ``. The check and the write cannot drift apart, since the content
is hashed here from the very text that copy writes.
"""

from __future__ import annotations

import hashlib

from ansible.errors import AnsibleFilterError

# What paths_info compares; everything else in an entry is for the writing task (validate, ...).
COMPARED = ("path", "type", "mode", "owner", "group")
TYPES = ("file", "directory", "absent")


def paths_wanted(entries):
    """[{path, type, mode, owner, group, checksum}] for groundwork.infra.paths_info."""
    out = []
    for entry in entries or []:
        if not isinstance(entry, dict) or not entry.get("path"):
            raise AnsibleFilterError("paths_wanted: every entry needs a path, not %r" % (entry,))
        kind = entry.get("type")
        if kind not in TYPES:
            raise AnsibleFilterError("paths_wanted: %s: type must be one of %s, not %r" % (entry["path"], ", ".join(TYPES), kind))
        if kind == "file" and not isinstance(entry.get("content"), str):
            raise AnsibleFilterError("paths_wanted: %s: a file needs its content (a string)" % entry["path"])
        if kind != "file" and "content" in entry:
            raise AnsibleFilterError("paths_wanted: %s: only a file has content, not a %s" % (entry["path"], kind))
        wanted = dict((key, entry[key]) for key in COMPARED if entry.get(key) is not None)
        if kind == "file":
            # The SHA-1 of the UTF-8 text, the digest ansible.builtin.copy compares with.
            wanted["checksum"] = hashlib.sha1(entry["content"].encode("utf-8"), usedforsecurity=False).hexdigest()
        out.append(wanted)
    return out


class FilterModule(object):
    def filters(self):
        return {"paths_wanted": paths_wanted}
