# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Decisions of the groundwork.infra.k3s role and validate.yml, kept out of Jinja so that they can be tested.

- ``k3s_version``: the output of ``k3s --version`` -> the version it names (``v1.31.4+k3s1``), or "".
- ``k3s_downgrade``: whether installing one k3s version over another is a downgrade, comparing
  ``major.minor.patch`` and then the ``k3sN`` build (``v1.31.4+k3s1`` < ``v1.31.4+k3s2`` < ``v1.31.10-rc1+k3s1`` < ``v1.31.10+k3s1``).
"""

from __future__ import annotations

import re

from ansible.errors import AnsibleFilterError

VERSION_LINE = re.compile(r"^k3s version (v?\S+)", re.MULTILINE)
VERSION = re.compile(r"^v?([0-9]+)\.([0-9]+)\.([0-9]+)(?:-rc([0-9]+))?[-+]k3s([0-9]+)")


def k3s_version(output):
    """``k3s version v1.31.4+k3s1 (abcdef12)`` (first line of ``k3s --version``) -> ``v1.31.4+k3s1``."""
    found = VERSION_LINE.search(output or "")
    return found.group(1) if found else ""


def _key(version):
    found = VERSION.match(str(version).strip())
    if not found:
        raise AnsibleFilterError("k3s: %r is not a k3s version (vMAJOR.MINOR.PATCH+k3sN, for example v1.31.4+k3s1)" % (version,))
    major, minor, patch, candidate, build = found.groups()
    # A release candidate (-rcN) comes before the release of the same number.
    release = (0, int(candidate)) if candidate else (1, 0)
    return (int(major), int(minor), int(patch)) + release + (int(build),)


def k3s_downgrade(new, running):
    """True when ``new`` is older than ``running`` (k3s does not support downgrades); False without ``running``."""
    if not running:
        return False
    return _key(new) < _key(running)


class FilterModule(object):
    def filters(self):
        return {"k3s_version": k3s_version, "k3s_downgrade": k3s_downgrade}
