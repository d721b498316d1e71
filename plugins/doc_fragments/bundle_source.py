# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment(object):
    # Options shared by the modules that read a bundle manifest on the controller.
    # The matching argument spec is plugins/module_utils/_bundle_spec.py SOURCE_SPEC.
    DOCUMENTATION = r"""
options:
  manifest:
    description:
      - Where the release manifest (C(manifest.yaml)) is read from, on the controller.
      - An C(http://), C(https://) or C(file://) URL, or a path on the controller.
      - Relative artifact URLs in the manifest are resolved against this location.
    type: str
  signature:
    description:
      - Where the detached minisign signature of the manifest is read from.
      - Defaults to the manifest location with C(.minisig) appended.
      - Only read when O(trusted_keys) is set.
    type: str
  trusted_keys:
    description:
      - Minisign public keys the manifest signature must verify against.
      - Each item is the key itself (the base64 line, or the whole C(.pub) file content)
        or the path of a C(.pub) file on the controller.
      - When set, an unsigned manifest, a signature by any other key, or a manifest
        changed after signing is refused. When empty, unsigned manifests are accepted.
    type: list
    elements: str
    default: []
  components:
    description:
      - Names of the components to act on. All components of the release when empty.
    type: list
    elements: str
    default: []
  allow_expired:
    description:
      - Accept a manifest whose C(expires) time has passed.
      - Without it, a stale manifest is refused so an old release cannot be replayed forever.
    type: bool
    default: false
  host_capabilities:
    description:
      - "Versions of host capabilities that components may require, for example
        C(docker_engine: 26.1.5), C(docker_compose: 2.26.1) or C(k3s: v1.30.2+k3s1)."
      - C(python), C(kernel) and C(systemd) are filled in from gathered facts when
        facts are available; values given here win.
    type: dict
    default: {}
  validate_certs:
    description:
      - Verify TLS certificates of C(https://) locations. Turn off only for a test lab.
    type: bool
    default: true
  timeout:
    description:
      - Seconds a connection may stay silent before the transfer is retried.
    type: int
    default: 30
  retries:
    description:
      - How many times a failed transfer (connection error, stall, HTTP 5xx) is retried.
        HTTP 4xx errors are not retried.
    type: int
    default: 3
  min_download_rate:
    description:
      - Lowest average rate, in bytes per second, a download may have. Each transfer (the manifest,
        its signature, each artifact) gets a deadline of O(timeout) seconds plus its size divided by
        this rate, over all its retries; a server that sends data, but too slowly (one byte at a time),
        fails with a C(download) error that says so. O(timeout) alone only measures silence.
      - V(0) turns the deadline off.
    type: int
    default: 16384
  max_manifest_size:
    description:
      - Largest manifest, in bytes, that is read before parsing. A larger response is refused.
    type: int
    default: 1048576
"""
