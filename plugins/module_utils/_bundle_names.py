# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to groundwork.infra: the patterns for names that become paths. Standard library only.

One place for component names, versions, releases, artifact file names and host
capabilities, used by bundle_build, the manifest parser (controller) and
bundle_install (managed host) alike. Every pattern is matched whole with
``re.fullmatch`` and ends in ``\\Z``: ``$`` would also match before a final newline,
so ``1.0.0\\n`` would pass and become a directory name (threat 22).
"""

from __future__ import annotations

import re

NAME_RE = re.compile(r"[a-z0-9](?:[a-z0-9._-]{0,62}[a-z0-9])?\Z")
VERSION_RE = re.compile(r"[0-9A-Za-z][0-9A-Za-z.+_-]{0,63}\Z")
FILE_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+~-]{0,254}\Z")
CAPABILITY_RE = re.compile(r"[a-z][a-z0-9_]{0,62}\Z")
HEX_RE = {"sha256": re.compile(r"[0-9a-fA-F]{64}\Z"), "sha512": re.compile(r"[0-9a-fA-F]{128}\Z")}


def full_match(pattern, value):
    """True when ``value`` is a string that ``pattern`` matches from its first to its last character."""
    return isinstance(value, str) and pattern.fullmatch(value) is not None


def valid_name(value):
    """A component name: lowercase letters, digits, . _ - (no '..')."""
    return full_match(NAME_RE, value) and ".." not in value


def valid_version(value):
    """A component version or a release: letters, digits, . + _ - (no '..')."""
    return full_match(VERSION_RE, value) and ".." not in value


def valid_file_name(value):
    """An artifact file name: letters, digits, . _ + - ~ (no '..'; ~ as in Debian's package file names, never first)."""
    return full_match(FILE_NAME_RE, value) and ".." not in value


def valid_capability(value):
    """A host capability name: lowercase letters, digits, _."""
    return full_match(CAPABILITY_RE, value)
