# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to groundwork.infra: argument specs shared by the bundle plugins.

SOURCE_SPEC matches the doc fragment groundwork.infra.bundle_source; keep them side by side.
"""

from __future__ import annotations

from ansible_collections.groundwork.infra.plugins.module_utils._bundle_arch import ARCHITECTURES

SOURCE_SPEC = dict(
    manifest=dict(type="str"),
    signature=dict(type="str"),
    trusted_keys=dict(type="list", elements="str", default=[], no_log=False),
    components=dict(type="list", elements="str", default=[]),
    allow_expired=dict(type="bool", default=False),
    host_capabilities=dict(type="dict", default={}),
    validate_certs=dict(type="bool", default=True),
    timeout=dict(type="int", default=30),
    retries=dict(type="int", default=3),
    max_manifest_size=dict(type="int", default=1024 * 1024),
    min_download_rate=dict(type="int", default=16 * 1024),
)

LIMITS_SPEC = dict(
    max_unpacked_size=dict(type="int", default=8 * 1024 ** 3),
    max_members=dict(type="int", default=50000),
)

FETCH_SPEC = dict(SOURCE_SPEC)
FETCH_SPEC.update(
    manifest=dict(type="str", required=True),
    dest=dict(type="path"),
    allow_downgrade=dict(type="bool", default=False),
    allow_republish=dict(type="bool", default=False),
    verify=dict(type="str", default="fast", choices=["fast", "full"]),
    cache_dir=dict(type="path", default="~/.cache/groundwork-infra/bundles"),
    keep=dict(type="int", default=3),
    lock_timeout=dict(type="int", default=300),
    architecture=dict(type="str", choices=list(ARCHITECTURES)),
)
FETCH_SPEC.update(LIMITS_SPEC)

INFO_SPEC = dict(SOURCE_SPEC)
INFO_SPEC.update(
    dest=dict(type="path"),
    verify=dict(type="str", default="fast", choices=["fast", "full"]),
    architecture=dict(type="str", choices=list(ARCHITECTURES)),
)
