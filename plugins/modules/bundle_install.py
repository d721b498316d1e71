#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: bundle_install
short_description: Verify bundle artifacts on a host and switch releases atomically
version_added: 0.1.0
description:
  - Takes artifacts that are already on the managed host, checks each one's size and
    digest again on a copy inside the destination filesystem, unpacks archives safely
    into a private staging directory, moves the verified release to
    C(<dest>/<component>/<version>/) and then switches C(<dest>/<component>/current)
    with one atomic rename.
  - This is the host side of M(groundwork.infra.bundle_fetch), which checks signatures,
    expiry, downgrades and compatibility on the controller and then calls this module.
    Call it directly only for artifacts that reached the host by other means (for example
    removable media in an air-gapped site) and whose digests you already trust.
  - One run at a time per destination (a lock file). A run that is killed leaves the
    current release untouched; the next run removes its staging files.
  - Runs on the managed host with the Python standard library only.
author:
  - groundwork.infra maintainers (@groundwork-infra)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - groundwork.infra.attributes
attributes:
  check_mode:
    support: full
    details: Reports which components would be installed or switched without writing anything.
  diff_mode:
    support: full
options:
  dest:
    description:
      - Destination directory on the managed host. Created if missing.
    type: path
    required: true
  release:
    description:
      - Release version of the manifest these components come from. Recorded in the destination state.
    type: str
    required: true
  components:
    description:
      - Components to install, each with the artifacts that make it up.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Component name, as in the manifest.
        type: str
        required: true
      version:
        description: Component version, as in the manifest. Becomes the directory name.
        type: str
        required: true
      kind:
        description: Component kind, as in the manifest (recorded only).
        type: str
        default: files
      requires:
        description: Requirements as in the manifest (recorded, so later runs can check them).
        type: dict
        default: {}
      artifacts:
        description: Files that make up the component.
        type: list
        elements: dict
        required: true
        suboptions:
          name:
            description: File name of the artifact.
            type: str
            required: true
          src:
            description: Path of the artifact on the managed host.
            type: path
            required: true
          sha256:
            description: Expected SHA-256 digest (hex). One of O(components[].artifacts[].sha256) or O(components[].artifacts[].sha512) is required.
            type: str
          sha512:
            description: Expected SHA-512 digest (hex).
            type: str
          size:
            description: Expected size in bytes.
            type: int
            required: true
          unpack:
            description: Unpack this tar archive into the release directory instead of placing the file itself.
            type: bool
            default: false
          unpacked_size:
            description: Upper bound, in bytes, of what the archive may unpack to.
            type: int
          executable:
            description: Give a placed (not unpacked) file mode 0755 instead of 0644.
            type: bool
            default: false
          arch:
            description:
              - The architecture the artifact is built for (Debian's names), as in the manifest;
                omitted for an artifact for every architecture. Recorded, so that
                M(groundwork.infra.bundle_info) shows which build is installed and a re-labelled
                artifact under an unchanged version is not taken for the installed one.
              - A placed (not unpacked) file that is an ELF executable for another architecture than
                this one is refused with an C(integrity) error.
            type: str
            choices: [amd64, arm64, armhf]
  verify:
    description:
      - V(fast) trusts an installed release whose record matches the requested artifacts, and an archive
        whose verified stamp (C(<src>.stamp), as the artifact cache of M(groundwork.infra.bundle_fetch) writes
        it) is a private file of this user and matches the size, mtime, inode, device and ctime of the very
        file opened, so it is not hashed again.
      - V(full) also re-hashes every archive and every installed file against the record and re-installs a
        damaged release.
    type: str
    choices: [fast, full]
    default: fast
  expected_highest_release:
    description:
      - The highest accepted release the caller read from the destination before it compared versions.
      - The install fails if the destination records another value (a concurrent run changed it).
    type: str
  record_highest_release:
    description:
      - Highest accepted release to record after the install. Set by M(groundwork.infra.bundle_fetch).
    type: str
  keep:
    description:
      - How many versions of each component to keep on disk, the current one included.
    type: int
    default: 3
  lock_timeout:
    description: Seconds to wait for another run to release the destination lock.
    type: int
    default: 300
  max_unpacked_size:
    description: Largest total size, in bytes, an archive may unpack to. Enforced while unpacking.
    type: int
    default: 8589934592
  max_members:
    description: Largest number of members an archive may hold.
    type: int
    default: 50000
notes:
  - Archives are refused before anything is written when a member has an absolute path, a C(..)
    component, a link pointing outside the archive, a path through a symlink, a device or FIFO,
    setuid/setgid/sticky bits, or a duplicate name.
seealso:
  - module: groundwork.infra.bundle_fetch
  - module: groundwork.infra.bundle_info
"""

EXAMPLES = r"""
- name: Install a component from files copied to the host from removable media
  groundwork.infra.bundle_install:
    dest: /opt/groundwork/bundles
    release: "2026.11.0"
    components:
      - name: hello-web
        version: "1.0.0"
        kind: compose
        artifacts:
          - name: hello-web-1.0.0.tar.gz
            src: /media/usb/hello-web-1.0.0.tar.gz
            sha256: 0f6c2c6e3b8d9c3b0f7a2e1d4c5b6a7988776655443322110ffeeddccbbaa998
            size: 20480
            unpack: true
"""

RETURN = r"""
dest:
  description: Absolute destination path.
  returned: always
  type: str
  sample: /opt/groundwork/bundles
release:
  description: Release that was installed.
  returned: always
  type: str
  sample: "2026.11.0"
plan:
  description: Per component, the version before and after and what was done (V(none), V(install), V(switch)).
  returned: always
  type: list
  elements: dict
  sample: [{"name": "hello-web", "version": "1.0.0", "previous": null, "action": "install"}]
verified:
  description:
    - What was checked on the host in this run.
    - Per artifact, C(checked) says how it was checked, V(sha256) or V(sha512) (hashed on the host), or
      V(stamp) (a matching verified stamp, see O(verify)).
  returned: always
  type: dict
  sample: {"files": 3, "bytes": 20480, "artifacts": [{"component": "hello-web", "name": "hello-web-1.0.0.tar.gz",
                                                      "algorithm": "sha256", "digest": "0f6c...", "bytes": 20480,
                                                      "checked": "sha256"}]}
pruned:
  description: Old versions removed per component.
  returned: always
  type: dict
  sample: {"hello-web": ["0.9.0"]}
error:
  description: On failure, the kind of error, the component and file concerned and the reason.
  returned: failure
  type: dict
  sample: {"kind": "integrity", "component": "hello-web", "file": "hello-web-1.0.0.tar.gz", "reason": "sha256 mismatch"}
"""

import traceback

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.groundwork.infra.plugins.module_utils._bundle_arch import ARCHITECTURES
from ansible_collections.groundwork.infra.plugins.module_utils._bundle_archive import Limits
from ansible_collections.groundwork.infra.plugins.module_utils._bundle_errors import BundleError
from ansible_collections.groundwork.infra.plugins.module_utils._bundle_names import valid_file_name, valid_name, valid_version
from ansible_collections.groundwork.infra.plugins.module_utils._bundle_release import install_release

ARTIFACT_SPEC = dict(
    name=dict(type="str", required=True),
    src=dict(type="path", required=True),
    sha256=dict(type="str"),
    sha512=dict(type="str"),
    size=dict(type="int", required=True),
    unpack=dict(type="bool", default=False),
    unpacked_size=dict(type="int"),
    executable=dict(type="bool", default=False),
    arch=dict(type="str", choices=list(ARCHITECTURES)),
)

ARGUMENT_SPEC = dict(
    dest=dict(type="path", required=True),
    release=dict(type="str", required=True),
    components=dict(type="list", elements="dict", required=True, options=dict(
        name=dict(type="str", required=True),
        version=dict(type="str", required=True),
        kind=dict(type="str", default="files"),
        requires=dict(type="dict", default={}),
        artifacts=dict(type="list", elements="dict", required=True, options=ARTIFACT_SPEC,
                       required_one_of=[["sha256", "sha512"]], mutually_exclusive=[["sha256", "sha512"]]),
    )),
    verify=dict(type="str", default="fast", choices=["fast", "full"]),
    expected_highest_release=dict(type="str"),
    record_highest_release=dict(type="str"),
    keep=dict(type="int", default=3),
    lock_timeout=dict(type="int", default=300),
    max_unpacked_size=dict(type="int", default=8 * 1024 ** 3),
    max_members=dict(type="int", default=50000),
)


class BundleInstaller(object):
    """Validate names, then hand the work to module_utils._bundle_release."""

    def __init__(self, module):
        self.module = module
        self.params = module.params

    def run(self):
        if not valid_version(self.params["release"]):
            raise BundleError("release %r is not allowed: use letters, digits and . + _ - only (at most 64 characters)"
                              % (self.params["release"],))
        names = set()
        for comp in self.params["components"]:
            # The same full-match rules as for the manifest (threat 22): these become directory and file names.
            for field, valid in (("name", valid_name), ("version", valid_version)):
                value = comp[field]
                if not valid(value):
                    raise BundleError("%s %r cannot be used as a directory name" % (field, value), component=comp["name"])
            for art in comp["artifacts"]:
                if not valid_file_name(art["name"]):
                    raise BundleError("artifact name %r cannot be used as a file name" % (art["name"],), component=comp["name"])
            if comp["name"] in names:
                raise BundleError("component is listed twice", component=comp["name"])
            names.add(comp["name"])
        for comp in self.params["components"]:
            # Only what was given goes into the install record (no null placeholders from the spec).
            comp["artifacts"] = [dict((k, v) for k, v in art.items() if v is not None) for art in comp["artifacts"]]
        limits = Limits(max_members=self.params["max_members"], max_bytes=self.params["max_unpacked_size"])
        return install_release(
            self.params["dest"],
            self.params["release"],
            self.params["components"],
            check_mode=self.module.check_mode,
            verify=self.params["verify"],
            expected_highest_release=self.params["expected_highest_release"],
            record_highest_release=self.params["record_highest_release"],
            limits=limits,
            keep=self.params["keep"],
            lock_timeout=self.params["lock_timeout"],
        )


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    try:
        result = BundleInstaller(module).run()
    except BundleError as exc:
        module.fail_json(msg=exc.message, error=exc.to_dict())
    except Exception as exc:  # pylint: disable=broad-except
        module.fail_json(msg="bundle_install failed unexpectedly: %s" % exc, exception=traceback.format_exc())
    if module._diff:
        result["diff"] = {
            "before": "".join("%s: %s\n" % (p["name"], p["previous"]) for p in result["plan"]),
            "after": "".join("%s: %s\n" % (p["name"], p["version"]) for p in result["plan"]),
        }
    module.exit_json(**result)


if __name__ == "__main__":
    main()
