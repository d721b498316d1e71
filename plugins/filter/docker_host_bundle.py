# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The package bundle of groundwork.infra.docker_host (``docker_host_source: bundle``).

``docker_host_bundle_versions``: the versions of named packages in a bundle component of
.deb files, read from the artifact file names the signed manifest lists (``NAME_VERSION_ARCH.deb``
as scripts/package-bundle.sh names them: the ``~`` and ``:`` that Debian versions may hold, and
that bundle file names may not, written ``_7e`` and ``_3a``). The role pins the
engine and Compose packages to these versions, and check mode predicts them before the bundle is
on the host.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

from ansible.errors import AnsibleFilterError

# Debian package names and versions never hold "_": the first and the last one split the name.
_DEB_RE = re.compile(r"^(?P<name>[a-z0-9][a-z0-9.+-]*)_(?P<version>[0-9][0-9A-Za-z.+_-]*)_(?P<arch>[a-z0-9-]+)\.deb$")


def docker_host_bundle_versions(component, packages):
    """{package: version} for every name of ``packages`` found among the component's .deb artifacts.

    ``component``: one entry of the components a groundwork.infra.bundle_info result lists.
    A package with two versions in one component is an error (apt would pick one of them silently).
    """
    if not isinstance(component, dict) or not isinstance(component.get("artifacts"), list):
        raise AnsibleFilterError("docker_host_bundle_versions: expected a bundle_info component with artifacts, not %r" % (component,))
    wanted = [p for p in packages or [] if p]
    found = {}
    for artifact in component["artifacts"]:
        match = _DEB_RE.match(str(artifact.get("name", "")))
        if not match or match.group("name") not in wanted:
            continue
        name, version = match.group("name"), unquote(match.group("version").replace("_", "%"))
        if found.get(name, version) != version:
            raise AnsibleFilterError("docker_host_bundle_versions: component %s carries two versions of %s (%s and %s)"
                                     % (component.get("name"), name, found[name], version))
        found[name] = version
    return found


class FilterModule(object):
    def filters(self):
        return {"docker_host_bundle_versions": docker_host_bundle_versions}
