# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Decisions of the groundwork.infra.cloud_bootstrap role, kept out of Jinja so that they can be tested.

- ``cloud_bootstrap_login``: /proc/self/status of the connection's process and the account and group
  databases (getent) -> the user, groups and home of the connection.
- ``cloud_bootstrap_lockout``: the admin user's keys, the login user and the new sshd settings -> whom
  the settings would lock out, and why (empty: safe to apply).
- ``cloud_bootstrap_missing_keys``: the keys the admin user must have -> those not in its authorized_keys.
- ``cloud_bootstrap_swap_areas``: the content of /proc/swaps -> the active swap areas.
"""

from __future__ import annotations

import re

from ansible.errors import AnsibleFilterError
from ansible.module_utils.parsing.convert_bool import boolean

STATUS_IDS = re.compile(r"^(Uid|Gid|Groups):[ \t]*(.*)$", re.M)
LOCKOUT_FACTS = ("login", "login_keys_stat", "admin_user", "admin_keys", "admin_authorized_keys", "admin_keys_task",
                 "check_mode", "permit_root_login", "password_authentication", "allow_groups")
KEY = re.compile(r"((?:ssh|ecdsa|sk)-\S+ +\S+)")


def _first_name(database, number, field):
    """The first name in a getent database whose numeric field (uid or gid) is number, as getpwuid/getgrgid answer."""
    for name, fields in (database or {}).items():
        if len(fields) > field and str(fields[field]) == number:
            return name
    return None


def cloud_bootstrap_login(proc_status, passwd, group):
    """/proc/self/status of a process of the connection -> {user, groups, home}, as id(1) reads them.

    The real uid and gid and the supplementary groups are the credentials the login gave the process;
    passwd and group are ansible.builtin.getent's getent_passwd and getent_group facts. A group the
    database does not name keeps its number (id prints it the same way).
    """
    fields = dict((key, value.split()) for key, value in STATUS_IDS.findall(proc_status or ""))
    if not fields.get("Uid") or not fields.get("Gid"):
        raise AnsibleFilterError("cloud_bootstrap: no Uid/Gid lines in /proc/self/status: %r" % (proc_status or "")[:80])
    uid, gid = fields["Uid"][0], fields["Gid"][0]
    user = _first_name(passwd, uid, 1)
    if user is None:
        raise AnsibleFilterError("cloud_bootstrap: the login user's uid %s is not in the account database (getent passwd)" % uid)
    groups = []
    for number in [gid] + fields.get("Groups", []):
        name = _first_name(group, number, 1) or number
        if name not in groups:
            groups.append(name)
    return {"user": user, "groups": groups, "home": passwd[user][4] if len(passwd[user]) > 4 else ""}


def cloud_bootstrap_lockout(facts):
    """Whom applying the sshd settings would lock out: a list of reasons, empty when it is safe.

    facts (one dict, the names below) holds what the role read from the host and the settings:
    login ({user, groups} of this connection), login_keys_stat (stat of its authorized_keys),
    admin_user, admin_keys (wanted), admin_authorized_keys (the admin user's file content, '' when
    missing), admin_keys_task (the registered result of the task that installs the keys), check_mode,
    permit_root_login (no, prohibit-password, yes), password_authentication (bool), allow_groups (list).
    """
    missing = [name for name in LOCKOUT_FACTS if name not in (facts or {})]
    if missing:
        raise AnsibleFilterError("cloud_bootstrap_lockout: the facts lack %s" % ", ".join(missing))
    reasons = []
    admin = facts["admin_user"]
    task = facts["admin_keys_task"] or {}
    # In check mode the keys the run would install (or a user it would create, task skipped) count as in place.
    predicted = boolean(facts["check_mode"], strict=False) and bool(task.get("skipped") or task.get("changed"))
    if not predicted:
        absent = cloud_bootstrap_missing_keys(facts["admin_keys"], facts["admin_authorized_keys"])
        if absent:
            reasons.append("the admin user %s (%d of its %d keys are not in its authorized_keys)"
                           % (admin, len(absent), len(facts["admin_keys"])))
    login = facts["login"]
    user = login["user"]
    stat = facts["login_keys_stat"] or {}
    has_keys = user == admin or (bool(stat.get("exists")) and int(stat.get("size") or 0) > 0)
    root_login = facts["permit_root_login"]
    password = boolean(facts["password_authentication"], strict=False)
    who = "this connection (user %s)" % user
    if user == "root" and root_login == "no":
        reasons.append("%s: PermitRootLogin no" % who)
    elif user == "root" and root_login == "prohibit-password" and not has_keys:
        reasons.append("%s: PermitRootLogin prohibit-password and root has no keys in its authorized_keys" % who)
    elif not has_keys and not password:
        reasons.append("%s: password logins go off and it has no keys in its authorized_keys" % who)
    allowed = list(facts["allow_groups"] or [])
    # The admin user is added to the allowed groups by the role.
    if allowed and user != admin and not set(login["groups"]) & set(allowed):
        reasons.append("%s: AllowGroups %s holds none of its groups (%s)" % (who, " ".join(allowed), ", ".join(login["groups"])))
    return reasons


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
            "cloud_bootstrap_lockout": cloud_bootstrap_lockout,
            "cloud_bootstrap_missing_keys": cloud_bootstrap_missing_keys,
            "cloud_bootstrap_swap_areas": cloud_bootstrap_swap_areas,
        }
