#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: bundle_info
short_description: Show what a bundle release offers, what a host runs, and whether an upgrade fits
version_added: 0.1.0
description:
  - Reads a release manifest on the controller (verifying its signature when O(trusted_keys)
    are set) and lists its components, versions, artifacts and requirements.
  - With O(dest), also reads what is installed on the managed host under that destination
    (current version of each component, versions kept on disk, the highest release accepted).
  - With both, tells whether moving to the release is compatible, which components would change
    from which version to which, and whether it would be refused as a downgrade. This is the
    C(list), C(show), C(check-compatibility) and C(upgrade --dry-run) of the bundle tool.
  - With O(dest) (or O(architecture)) the release is judged for the host's architecture, and a
    component built only for other architectures is a problem that names the architectures the
    release carries. RV(components) shows each component's architectures either way.
  - Changes nothing, on the controller or on the host.
  - The manifest part runs in an action plugin on the controller; the host part runs with the
    Python standard library only.
author:
  - groundwork.infra maintainers (@groundwork-infra)
extends_documentation_fragment:
  - groundwork.infra.bundle_source
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
  - groundwork.infra.attributes
  - groundwork.infra.attributes.info_module
  - groundwork.infra.attributes.action_plugin
options:
  dest:
    description:
      - Destination directory on the managed host to inspect.
      - Without it, only the manifest is described.
    type: path
  verify:
    description:
      - V(full) re-hashes every installed file of the current versions against what was
        recorded at install time and reports damaged releases in RV(installed).
    type: str
    choices: [fast, full]
    default: fast
  architecture:
    description:
      - Judge the release for this architecture (Debian's names) instead of the host's own, which
        comes from its facts (C(ansible_architecture)) or, without facts, from the host itself.
    type: str
    choices: [amd64, arm64, armhf]
notes:
  - At least one of O(manifest) and O(dest) is needed.
seealso:
  - module: groundwork.infra.bundle_fetch
  - module: groundwork.infra.bundle_build
"""

EXAMPLES = r"""
- name: List what a release offers (runs on the controller only)
  groundwork.infra.bundle_info:
    manifest: https://bundles.example.com/releases/2026.11.0/manifest.yaml
    trusted_keys:
      - "{{ lookup('ansible.builtin.file', 'keys/release.pub') }}"
  delegate_to: localhost
  run_once: true
  register: release

- name: Show what a host runs
  groundwork.infra.bundle_info:
    dest: /opt/groundwork/bundles
  register: installed

- name: Upgrade dry run - would this release fit this host?
  groundwork.infra.bundle_info:
    manifest: https://bundles.example.com/releases/2026.12.0/manifest.yaml
    trusted_keys: ["{{ lookup('ansible.builtin.file', 'keys/release.pub') }}"]
    dest: /opt/groundwork/bundles
    host_capabilities:
      docker_engine: "{{ docker_version | default(omit) }}"
  register: upgrade

- name: Stop when it would not
  ansible.builtin.assert:
    that: upgrade.compatible and not upgrade.downgrade
    fail_msg: "{{ upgrade.problems | join('; ') }}"
"""

RETURN = r"""
release:
  description: The manifest's release, issue and expiry times and description.
  returned: when O(manifest) is set
  type: dict
  sample: {"release": "2026.11.0", "issued": "2026-11-23T10:00:00Z", "expires": "2027-02-21T00:00:00Z",
           "format": 2, "architectures": ["amd64", "arm64"]}
components:
  description: Components of the release (after O(components) filtering) with artifacts and requirements.
  returned: when O(manifest) is set
  type: list
  elements: dict
  sample: [{"name": "hello-web", "version": "1.0.0", "kind": "compose", "size": 20480, "architectures": ["all"],
            "requires": {"components": {}, "host": {"docker_engine": ">=20.10"}},
            "artifacts": [{"name": "hello-web-1.0.0.tar.gz", "url": "https://bundles.example.com/a.tar.gz",
                           "sha256": "0f6c...", "size": 20480, "unpack": true}]}]
verified:
  description: How the manifest was authenticated.
  returned: when O(manifest) is set
  type: dict
  sample: {"manifest_sha256": "3b1f...", "signed": true, "key_id": "4B1C9A8E2F3D7A60"}
installed:
  description: Per component found under O(dest), its current version, versions on disk, the release
    it came from, the architecture of the build installed (V(all) for a build for every architecture)
    and its recorded requirements; with O(verify=full) also C(intact) and C(problems).
  returned: when O(dest) is set
  type: dict
  sample: {"hello-web": {"current": "1.0.0", "versions": ["0.9.0", "1.0.0"], "release": "2026.10.0", "architecture": "arm64"}}
architecture:
  description: The architecture the release was judged for, in Debian's names (null when unknown).
  returned: when O(dest) or O(architecture) is set
  type: str
  sample: arm64
architecture_source:
  description: Where RV(architecture) came from (the option, C(ansible_architecture), or the host itself).
  returned: when O(dest) or O(architecture) is set
  type: str
  sample: arm64 (ansible_architecture aarch64)
state:
  description: Destination state, the highest accepted release and the current release.
  returned: when O(dest) is set
  type: dict
  sample: {"highest_release": "2026.10.0", "release": "2026.10.0"}
compatible:
  description: Whether the release's requirements are all met on this host (installed components and capabilities).
  returned: when O(manifest) is set
  type: bool
problems:
  description: Every unmet requirement, one sentence each.
  returned: when O(manifest) is set
  type: list
  elements: str
  sample: ["hello-web 1.0.0 requires host docker_engine >=24.0, but the host has 20.10.24+dfsg1"]
downgrade:
  description: Whether the release is lower than the highest one accepted at O(dest).
  returned: when O(manifest) and O(dest) are set
  type: bool
republished:
  description:
    - Components whose version O(dest) already holds from other artifacts than the release offers
      (changed content under an unchanged version), one sentence each. Also listed in RV(problems);
      M(groundwork.infra.bundle_fetch) refuses them unless its O(groundwork.infra.bundle_fetch#module:allow_republish) is set.
  returned: when O(manifest) and O(dest) are set
  type: list
  elements: str
upgrade:
  description: Per component, the version installed now, the version in the release and the action a
    delivery would take (V(none), V(install) or V(switch)).
  returned: when O(manifest) and O(dest) are set
  type: list
  elements: dict
  sample: [{"name": "hello-web", "previous": "0.9.0", "version": "1.0.0", "action": "install"}]
host_capabilities:
  description: The capability versions the compatibility check used.
  returned: when O(manifest) is set
  type: dict
"""

import traceback

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.groundwork.infra.plugins.module_utils._bundle_arch import host_platform
from ansible_collections.groundwork.infra.plugins.module_utils._bundle_errors import BundleError
from ansible_collections.groundwork.infra.plugins.module_utils._bundle_release import Destination
from ansible_collections.groundwork.infra.plugins.module_utils._bundle_spec import INFO_SPEC


class InstalledInspector(object):
    """Host side: read the destination's state and records. Never writes."""

    def __init__(self, module):
        self.module = module

    def run(self):
        params = self.module.params
        if not params["dest"]:
            return {"installed": {}, "state": {}, "host": host_platform()}
        destination = Destination(params["dest"])
        state = destination.read_state()
        installed = destination.installed(names=params["components"] or None, full=params["verify"] == "full")
        return {"installed": installed, "state": {"highest_release": state.get("highest_release"), "release": state.get("release")},
                "host": host_platform()}


def main():
    module = AnsibleModule(argument_spec=INFO_SPEC, supports_check_mode=True)
    try:
        result = InstalledInspector(module).run()
    except BundleError as exc:
        module.fail_json(msg=exc.message, error=exc.to_dict())
    except Exception as exc:  # pylint: disable=broad-except
        module.fail_json(msg="bundle_info failed unexpectedly: %s" % exc, exception=traceback.format_exc())
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
