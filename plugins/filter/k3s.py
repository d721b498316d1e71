# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Decisions of the groundwork.infra.k3s role and validate.yml, kept out of Jinja so that they can be tested.

- ``k3s_version``: the output of ``k3s --version`` -> the version it names (``v1.31.4+k3s1``), or "".
- ``k3s_downgrade``: whether installing one k3s version over another is a downgrade, comparing
  ``major.minor.patch`` and then the ``k3sN`` build (``v1.31.4+k3s1`` < ``v1.31.4+k3s2`` < ``v1.31.10-rc1+k3s1`` < ``v1.31.10+k3s1``).
- ``k3s_release_files``: a host's architecture (``ansible_architecture``, or a name k3s or Debian uses) -> the names
  of its k3s release files (``k3s-arm64``, ``sha256sum-arm64.txt``, ``k3s-airgap-images-arm64.*``) and the Debian
  name bundles label its builds with (``arm64``).
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


# uname -m / ansible_architecture, and the names k3s (amd64, arm64, arm) and Debian (armhf) use -> k3s's name.
K3S_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64",
            "armv7l": "arm", "armv8l": "arm", "armhf": "arm", "arm": "arm"}
# k3s's name -> (binary, Debian's name). Checksum files and image tarballs carry k3s's name.
K3S_FILES = {"amd64": ("k3s", "amd64"), "arm64": ("k3s-arm64", "arm64"), "arm": ("k3s-armhf", "armhf")}


def k3s_release_files(architecture):
    """``aarch64`` -> ``{"arch": "arm64", "debian": "arm64", "binary": "k3s-arm64", "checksums": "sha256sum-arm64.txt",
    "images": "k3s-airgap-images-arm64."}`` (``images``: the prefix of the air-gap image tarballs)."""
    arch = K3S_ARCH.get(str(architecture or "").strip().lower())
    if arch is None:
        raise AnsibleFilterError("k3s: architecture %r has no k3s release files; k3s is built for %s (ansible_architecture %s)"
                                 % (architecture, ", ".join(sorted(K3S_FILES)), ", ".join(sorted(k for k in K3S_ARCH if k not in K3S_FILES))))
    binary, debian = K3S_FILES[arch]
    return {"arch": arch, "debian": debian, "binary": binary, "checksums": "sha256sum-%s.txt" % arch,
            "images": "k3s-airgap-images-%s." % arch}


def k3s_downgrade(new, running):
    """True when ``new`` is older than ``running`` (k3s does not support downgrades); False without ``running``."""
    if not running:
        return False
    return _key(new) < _key(running)


class FilterModule(object):
    def filters(self):
        return {"k3s_version": k3s_version, "k3s_downgrade": k3s_downgrade, "k3s_release_files": k3s_release_files}
