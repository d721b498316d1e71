#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: paths_info
short_description: Tell in one call which of many paths on a host are not as wanted
version_added: 0.2.0
description:
  - Examines each path given (type, mode, owner, group, size and, for a regular file, the
    SHA-1 of its content) and compares it with the wanted state given beside it.
  - Returns the state of every path and, in RV(differ), the paths that are not as wanted,
    so that a play reads many managed files in one module call and runs its
    M(ansible.builtin.file) or M(ansible.builtin.copy) task only for the paths in that
    list. Those modules still do every write.
  - The checksum is the SHA-1 of the file's content, the digest M(ansible.builtin.copy)
    compares, so a caller can pass C(content | hash('sha1')) for the content it would copy.
  - Never follows a symbolic link at the path (C(lstat)). A symbolic link is of type V(link)
    whatever it points to, and its own mode, owner and group are reported.
  - Changes nothing, not even the access time of the files it reads where the system allows
    it (C(O_NOATIME)). Runs on the managed host with the Python standard library only.
author:
  - groundwork.infra maintainers (@groundwork-infra)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - groundwork.infra.attributes
  - groundwork.infra.attributes.info_module
options:
  paths:
    description:
      - The paths to examine, each with the state wanted for it.
      - Every wanted field is optional. A path is as wanted when every field given for it
        matches; a path given without any wanted field is as wanted whatever its state.
    type: list
    elements: dict
    required: true
    suboptions:
      path:
        description:
          - Absolute path on the managed host. Each path may be listed once.
        type: path
        required: true
      type:
        description:
          - The wanted type, one of V(file) (a regular file), V(directory), V(link) (a
            symbolic link) or V(absent) (nothing at that path).
          - With V(absent) no other wanted field may be given.
        type: str
      mode:
        description:
          - The wanted permission bits as an octal string such as V(0644), V(0700) or
            V(1777). The setuid, setgid and sticky bits are compared too.
          - Quote it in YAML. An unquoted C(0644) is the number 420 and is refused.
        type: raw
      owner:
        description:
          - The wanted owner, a user name (or a numeric user id as a string).
        type: str
      group:
        description:
          - The wanted group, a group name (or a numeric group id as a string).
        type: str
      checksum:
        description:
          - The wanted SHA-1 of the content, 40 hexadecimal digits. Only a regular file has
            a checksum, so any other type (or no file) is not as wanted.
        type: str
notes:
  - Reads the whole content of every regular file listed, to hash it; list the files it is
    meant for (configuration files), not large data.
  - A path that cannot be examined completely is never as wanted. RV(problems) says why, for
    example a regular file whose content cannot be read, or a parent directory that cannot
    be searched.
seealso:
  - module: ansible.builtin.stat
  - module: ansible.builtin.file
  - module: ansible.builtin.copy
"""

EXAMPLES = r"""
- name: Read the state of the managed configuration in one call
  groundwork.infra.paths_info:
    paths:
      - path: /etc/myapp
        type: directory
        mode: "0755"
        owner: root
        group: root
      - path: /etc/myapp/myapp.conf
        type: file
        mode: "0644"
        owner: root
        group: root
        checksum: "{{ myapp_conf_content | hash('sha1') }}"
      - path: /etc/myapp/obsolete.conf
        type: absent
  register: myapp_paths
  check_mode: false

- name: Create /etc/myapp only when it is missing or different
  ansible.builtin.file:
    path: /etc/myapp
    state: directory
    mode: "0755"
    owner: root
    group: root
  when: "'/etc/myapp' in myapp_paths.differ"

- name: Write myapp.conf only when it is missing or different
  ansible.builtin.copy:
    content: "{{ myapp_conf_content }}"
    dest: /etc/myapp/myapp.conf
    mode: "0644"
    owner: root
    group: root
  when: "'/etc/myapp/myapp.conf' in myapp_paths.differ"

- name: Remove obsolete.conf only when it is there
  ansible.builtin.file:
    path: /etc/myapp/obsolete.conf
    state: absent
  when: "'/etc/myapp/obsolete.conf' in myapp_paths.differ"
"""

RETURN = r"""
paths:
  description:
    - The state of each path given, keyed by the path as given (after the C(~) and variable
      expansion every option of type C(path) gets), in the order given. Each value holds the
      keys below.
    - C(exists) and C(type) are V(null) when the path could not be examined (see RV(problems)).
  returned: always
  type: dict
  sample:
    /etc/myapp:
      exists: true
      type: directory
      mode: "0755"
      owner: root
      group: root
      size: 4096
      checksum: null
      as_wanted: true
      differences: []
    /etc/myapp/myapp.conf:
      exists: true
      type: file
      mode: "0640"
      owner: root
      group: root
      size: 21
      checksum: 3f786850e387550fdab836ed7e6dc881de23001b
      as_wanted: false
      differences: [mode, checksum]
    /etc/myapp/obsolete.conf:
      exists: false
      type: absent
      mode: null
      owner: null
      group: null
      size: null
      checksum: null
      as_wanted: true
      differences: []
  contains:
    exists:
      description: Whether something is at the path (a dangling symbolic link exists).
      type: bool
    type:
      description: V(file), V(directory), V(link), V(other) (a device, socket or FIFO) or V(absent).
      type: str
    mode:
      description: The permission bits as four octal digits (V(0644), V(4755)); V(null) when absent.
      type: str
    owner:
      description: The owner's user name, its numeric id as a string when it has no name; V(null) when absent.
      type: str
    group:
      description: The group's name, its numeric id as a string when it has no name; V(null) when absent.
      type: str
    size:
      description: The size in bytes as lstat reports it; V(null) when absent.
      type: int
    checksum:
      description: The SHA-1 of a regular file's content; V(null) for anything else or an unreadable file.
      type: str
    as_wanted:
      description: Whether every wanted field given for the path matches (and the path could be examined).
      type: bool
    differences:
      description: The wanted fields that do not match, in the order V(type), V(mode), V(owner), V(group), V(checksum).
      type: list
      elements: str
differ:
  description: The paths that are not as wanted, in the order given.
  returned: always
  type: list
  elements: str
  sample: [/etc/myapp/myapp.conf]
problems:
  description: Why a path could not be examined completely, one sentence each.
  returned: always
  type: list
  elements: str
  sample: ["/etc/myapp/secret.conf: cannot read the content: Permission denied"]
"""

import errno
import grp
import hashlib
import os
import pwd
import re
import stat

from ansible.module_utils.basic import AnsibleModule

ARGUMENT_SPEC = dict(
    paths=dict(
        type="list",
        elements="dict",
        required=True,
        options=dict(
            path=dict(type="path", required=True),
            type=dict(type="str"),
            mode=dict(type="raw"),
            owner=dict(type="str"),
            group=dict(type="str"),
            checksum=dict(type="str"),
        ),
    ),
)

TYPES = ("file", "directory", "link", "absent")
# The wanted fields, in the order RV(differences) lists them.
FIELDS = ("type", "mode", "owner", "group", "checksum")
_OCTAL = re.compile(r"^[0-7]+$")
_SHA1 = re.compile(r"^[0-9a-fA-F]{40}$")
_CHUNK = 1024 * 1024


class InputError(Exception):
    """A wanted state that cannot be compared: names the path and the field."""

    def __init__(self, path, field, message):
        super().__init__("%s: %s %s" % (path, field, message))
        self.path = path
        self.field = field


def wanted_state(entry):
    """The wanted fields of one entry of O(paths), checked and normalised (mode as an int, checksum in lower case)."""
    path = entry["path"]
    if not os.path.isabs(path):
        raise InputError(path, "path", "must be an absolute path")
    wanted = {}
    kind = entry.get("type")
    if kind is not None:
        if kind not in TYPES:
            raise InputError(path, "type", "must be one of %s, not %r" % (", ".join(TYPES), kind))
        wanted["type"] = kind
    mode = entry.get("mode")
    if mode is not None:
        if isinstance(mode, bool) or not isinstance(mode, str):
            raise InputError(path, "mode", "must be a quoted octal string such as \"0644\", not %r "
                             "(YAML reads an unquoted 0644 as the number 420)" % (mode,))
        if not _OCTAL.match(mode) or int(mode, 8) > 0o7777:
            raise InputError(path, "mode", "must be an octal string such as \"0644\" (at most 7777), not %r" % (mode,))
        wanted["mode"] = int(mode, 8)
    for name in ("owner", "group"):
        value = entry.get(name)
        if value is not None:
            if not value:
                raise InputError(path, name, "must not be empty")
            wanted[name] = value
    checksum = entry.get("checksum")
    if checksum is not None:
        if not _SHA1.match(checksum):
            raise InputError(path, "checksum", "must be a SHA-1 of 40 hexadecimal digits, not %r" % (checksum,))
        if kind not in (None, "file"):
            raise InputError(path, "checksum", "is for a regular file, not for type %s" % kind)
        wanted["checksum"] = checksum.lower()
    if kind == "absent" and len(wanted) > 1:
        extra = [f for f in FIELDS if f in wanted and f != "type"]
        raise InputError(path, extra[0], "cannot be wanted for a path of type absent")
    return wanted


class Examiner(object):
    """Reads the state of paths without changing anything (lstat, and a read of a regular file's content)."""

    def __init__(self):
        self._users = {}
        self._groups = {}

    def _name(self, cache, lookup, number):
        if number not in cache:
            try:
                cache[number] = lookup(number)[0]
            except KeyError:
                cache[number] = str(number)
        return cache[number]

    def examine(self, path):
        """(state, ids, problem): the RV(paths) entry without as_wanted, (uid, gid) and why it is incomplete."""
        state = dict(exists=False, type="absent", mode=None, owner=None, group=None, size=None, checksum=None)
        try:
            st = os.lstat(path)
        except OSError as exc:
            if exc.errno in (errno.ENOENT, errno.ENOTDIR):
                return state, None, None
            state.update(exists=None, type=None)
            return state, None, "%s: cannot examine it: %s" % (path, exc.strerror or exc)
        if stat.S_ISREG(st.st_mode):
            kind = "file"
        elif stat.S_ISDIR(st.st_mode):
            kind = "directory"
        elif stat.S_ISLNK(st.st_mode):
            kind = "link"
        else:
            kind = "other"
        state.update(
            exists=True,
            type=kind,
            mode="%04o" % stat.S_IMODE(st.st_mode),
            owner=self._name(self._users, pwd.getpwuid, st.st_uid),
            group=self._name(self._groups, grp.getgrgid, st.st_gid),
            size=st.st_size,
        )
        problem = None
        if kind == "file":
            try:
                state["checksum"] = sha1_of(path, st)
            except OSError as exc:
                problem = "%s: cannot read the content: %s" % (path, exc.strerror or exc)
        return state, (st.st_uid, st.st_gid), problem


def sha1_of(path, st):
    """SHA-1 of the content of the regular file that lstat gave as st, read without following a link."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    noatime = getattr(os, "O_NOATIME", 0)
    try:
        fd = os.open(path, flags | noatime)
    except OSError as exc:
        # O_NOATIME is only for the file's owner (or CAP_FOWNER); read it as usual otherwise.
        if not noatime or exc.errno != errno.EPERM:
            raise
        fd = os.open(path, flags)
    try:
        opened = os.fstat(fd)
        if (opened.st_dev, opened.st_ino) != (st.st_dev, st.st_ino) or not stat.S_ISREG(opened.st_mode):
            raise OSError(errno.EAGAIN, "it was replaced while it was examined")
        # The digest ansible.builtin.copy compares files with, not a security check.
        digest = hashlib.sha1(usedforsecurity=False)
        while True:
            chunk = os.read(fd, _CHUNK)
            if not chunk:
                break
            digest.update(chunk)
    finally:
        os.close(fd)
    return digest.hexdigest()


def differences(state, ids, wanted):
    """The wanted fields (in FIELDS order) that the state does not match."""
    out = []
    for field in FIELDS:
        if field not in wanted:
            continue
        want = wanted[field]
        if field == "mode":
            ok = state["mode"] is not None and int(state["mode"], 8) == want
        elif field in ("owner", "group"):
            number = None if ids is None else ids[0 if field == "owner" else 1]
            ok = state[field] is not None and want in (state[field], str(number))
        else:
            ok = state[field] == want
        if not ok:
            out.append(field)
    return out


def paths_info(entries):
    """The module's result for the O(paths) entries: paths, differ, problems. Raises InputError on bad input."""
    wanted = []
    seen = set()
    for entry in entries:
        if entry["path"] in seen:
            raise InputError(entry["path"], "path", "is listed more than once")
        seen.add(entry["path"])
        wanted.append((entry["path"], wanted_state(entry)))
    examiner = Examiner()
    result = dict(paths={}, differ=[], problems=[])
    for path, want in wanted:
        state, ids, problem = examiner.examine(path)
        mismatched = differences(state, ids, want)
        state["as_wanted"] = not mismatched and problem is None
        state["differences"] = mismatched
        if problem:
            result["problems"].append(problem)
        if not state["as_wanted"]:
            result["differ"].append(path)
        result["paths"][path] = state
    return result


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    try:
        result = paths_info(module.params["paths"])
    except InputError as exc:
        module.fail_json(msg="paths_info: %s" % exc, path=exc.path, field=exc.field)
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
