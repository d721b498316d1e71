#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# This module is implemented by the action plugin plugins/action/bundle_fetch.py (it runs on the
# controller and calls groundwork.infra.bundle_info and groundwork.infra.bundle_install on the host).
# Its argument spec is FETCH_SPEC in plugins/module_utils/_bundle_spec.py; a unit test keeps this
# documentation and that spec in step.

from __future__ import annotations

DOCUMENTATION = r"""
---
module: bundle_fetch
short_description: Deliver verified bundle components from a release manifest to hosts
version_added: 0.1.0
description:
  - Reads a release manifest, verifies its minisign signature against O(trusted_keys), refuses
    an expired manifest, refuses a release lower than the highest one already accepted at
    O(dest), and checks every requirement of the resulting set of components (between
    components, and on host capabilities) before anything changes. All unmet requirements are
    reported at once.
  - Downloads each artifact once into a cache on the controller, hashing while it streams and
    never reading past the declared size, with retries, timeouts and resume. Parallel hosts
    share one download.
  - Copies the artifacts to the host, where M(groundwork.infra.bundle_install) checks size and
    digest again on a copy in the destination filesystem, unpacks archives safely into a private
    staging directory, moves the release to C(<dest>/<component>/<version>/) and switches
    C(<dest>/<component>/current) atomically.
  - Each host gets the artifacts of its own architecture (a format 2 manifest can carry builds for
    C(amd64), C(arm64) and C(armhf) side by side) plus those for all architectures. The host's
    architecture comes from O(architecture), else from its facts (C(ansible_architecture) in
    Debian's names, so C(x86_64) is C(amd64), C(aarch64) C(arm64) and C(armv7l) C(armhf)), else from
    what the host reports. A host whose architecture the release does not carry (or that a
    component's C(requires.architecture) excludes) is refused before anything changes, with an
    error that names the architectures the release carries.
  - Without O(dest) it only fills the controller cache (useful with C(run_once) before a large
    rollout, or before going offline), with the artifacts of every architecture unless
    O(architecture) names one.
  - A re-run with nothing changed downloads nothing, copies nothing and reports no change.
author:
  - groundwork.infra maintainers (@groundwork-infra)
extends_documentation_fragment:
  - groundwork.infra.bundle_source
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
  - groundwork.infra.attributes
  - groundwork.infra.attributes.action_plugin
attributes:
  check_mode:
    support: full
    details: Verifies the manifest and the requirements and reports which components would change; downloads nothing.
  diff_mode:
    support: full
    details: Shows each component's version before and after.
options:
  manifest:
    description:
      - Where the release manifest (C(manifest.yaml)) is read from, on the controller.
      - An C(http://), C(https://) or C(file://) URL, or a path on the controller.
      - Relative artifact URLs in the manifest are resolved against this location.
    type: str
    required: true
  dest:
    description:
      - Destination directory on the managed host.
      - Omit it to only download the artifacts into O(cache_dir) on the controller.
    type: path
  allow_downgrade:
    description:
      - Install a release lower than the highest one already accepted at O(dest).
      - Without it such a release is refused, so an attacker cannot roll hosts back to an older,
        validly signed release.
    type: bool
    default: false
  allow_republish:
    description:
      - Re-install a component version that O(dest) already holds (current or kept) although the
        release offers other artifacts for it (another digest or size, an artifact added or gone),
        a release rebuilt with new content under unchanged versions.
      - Without it such a delivery is refused with an C(integrity) error naming the component, the
        version and each artifact that differs, since changed content should come with a new version.
    type: bool
    default: false
  verify:
    description:
      - V(fast) trusts the controller cache and installed releases whose recorded size, inode,
        mtime and digest still match, so a re-run does not re-hash large artifacts. On a local
        connection without become the host reads the cache file itself, and its verified stamp
        spares the host a second hash of the same bytes.
      - V(full) re-hashes the cache and every installed file, and re-delivers anything damaged.
    type: str
    choices: [fast, full]
    default: fast
  cache_dir:
    description:
      - Artifact cache on the controller, shared by all hosts and runs. Keyed by digest.
    type: path
    default: ~/.cache/groundwork-infra/bundles
  keep:
    description:
      - How many versions of each component to keep at O(dest), the current one included.
    type: int
    default: 3
  lock_timeout:
    description:
      - Seconds to wait when another run holds the lock of O(dest).
    type: int
    default: 300
  max_unpacked_size:
    description:
      - Largest total size, in bytes, an archive may unpack to. Enforced while unpacking. An
        artifact's C(unpacked_size) in the manifest lowers it further.
    type: int
    default: 8589934592
  max_members:
    description:
      - Largest number of members an archive may hold.
    type: int
    default: 50000
  architecture:
    description:
      - The host's architecture in Debian's names, instead of the one its facts give. For a cache
        fill without O(dest), the one architecture whose artifacts to download.
    type: str
    choices: [amd64, arm64, armhf]
notes:
  - Signature checks run on the controller and need the C(cryptography) Python library, which
    ansible-core already depends on. Code on the managed host uses the Python standard library only.
  - The bundle format is described in the collection's C(docs/bundle-format.md).
seealso:
  - module: groundwork.infra.bundle_info
  - module: groundwork.infra.bundle_install
  - module: groundwork.infra.bundle_build
"""

EXAMPLES = r"""
- name: Fill the controller cache once for the whole play
  groundwork.infra.bundle_fetch:
    manifest: https://bundles.example.com/releases/2026.11.0/manifest.yaml
    trusted_keys:
      - "{{ lookup('ansible.builtin.file', 'keys/release.pub') }}"
  run_once: true

- name: Deliver two components of a signed release
  groundwork.infra.bundle_fetch:
    manifest: https://bundles.example.com/releases/2026.11.0/manifest.yaml
    trusted_keys:
      - "{{ lookup('ansible.builtin.file', 'keys/release.pub') }}"
    components:
      - hello-web
      - redis
    dest: /opt/groundwork/bundles
    host_capabilities:
      docker_engine: "26.1.5"
  register: delivered

- name: Show where each component landed
  ansible.builtin.debug:
    msg: "{{ delivered.components | map(attribute='path') | list }}"
"""

RETURN = r"""
release:
  description: Release of the manifest that was delivered.
  returned: always
  type: str
  sample: "2026.11.0"
dest:
  description: Destination directory on the host (null for a cache fill).
  returned: always
  type: str
  sample: /opt/groundwork/bundles
components:
  description: Per component, the version before and after, the action taken (V(none), V(install),
    V(switch), or V(fetch) for a cache fill) and where the version lives on the host.
  returned: success
  type: list
  elements: dict
  sample: [{"name": "hello-web", "kind": "compose", "previous": "0.9.0", "version": "1.0.0",
            "action": "install", "path": "/opt/groundwork/bundles/hello-web/1.0.0", "architecture": "arm64"}]
architecture:
  description: The host's architecture in Debian's names, as the delivery used it (null when unknown).
    Each entry of RV(components) says which build it got, V(all) for a component built for every architecture.
  returned: when O(dest) is set
  type: str
  sample: arm64
verified:
  description: What was verified, for the audit trail. The manifest location and digest, whether it
    was signed and by which key id, the trusted comment, and the files and bytes checked on the host
    (per artifact, C(checked) is the algorithm when the host hashed it, V(stamp) when a verified
    stamp of the controller cache vouched for the very file).
  returned: success
  type: dict
  sample: {"release": "2026.11.0", "manifest_sha256": "3b1f...", "signed": true, "key_id": "4B1C9A8E2F3D7A60",
           "files": 12, "bytes": 20480, "artifacts": [{"component": "hello-web", "name": "hello-web-1.0.0.tar.gz",
           "algorithm": "sha256", "digest": "0f6c...", "bytes": 20480, "checked": "sha256"}]}
downloaded_bytes:
  description: Bytes downloaded into the controller cache by this task (0 when everything was cached).
  returned: when artifacts were needed
  type: int
  sample: 20480
cache_hits:
  description: Artifacts found in the controller cache already verified.
  returned: when artifacts were needed
  type: int
  sample: 1
pruned:
  description: Old versions removed at O(dest), per component.
  returned: when something was installed
  type: dict
  sample: {"hello-web": ["0.8.0"]}
host_capabilities:
  description: Capability versions used for the compatibility check.
  returned: when O(dest) is set
  type: dict
  sample: {"python": "3.11.2", "kernel": "6.1.0-27-amd64", "systemd": "252"}
error:
  description: On failure, the kind of error (manifest, signature, integrity, archive, compatibility,
    download, rollback, lock, storage), the component and file concerned, and the reason.
    Compatibility errors also list every unmet requirement under C(problems).
  returned: failure
  type: dict
  sample: {"kind": "rollback", "component": null, "file": null,
           "reason": "release 2026.10.0 is lower than release 2026.11.0, the highest already accepted at /opt/groundwork/bundles"}
"""
