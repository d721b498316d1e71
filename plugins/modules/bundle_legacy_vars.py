#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: bundle_legacy_vars
short_description: Warn about deprecated role-specific bundle variables
version_added: 0.1.0
description:
  - The C(bundle_*) variables of the C(groundwork.infra.bundle) role are the one bundle source of the
    collection (manifest, signature, trusted keys, verify mode, TLS, timeouts, retries, destination,
    cache) that every role and playbook reads.
  - The older names C(compose_app_bundle_*) and C(docker_host_bundle_manifest), C(docker_host_bundle_signature),
    C(docker_host_bundle_trusted_keys) still work until version 0.3.0 when the C(bundle_*) variable is not set.
  - This action emits an Ansible deprecation warning for each of them that is set, naming the variable to
    set instead. The groundwork.infra.bundle role runs it first; there is no need to call it yourself.
  - Runs on the controller only and changes nothing.
author:
  - groundwork.infra maintainers (@groundwork-infra)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
  - groundwork.infra.attributes
  - groundwork.infra.attributes.info_module
  - groundwork.infra.attributes.action_plugin
options: {}
seealso:
  - module: groundwork.infra.bundle_fetch
"""

EXAMPLES = r"""
- name: Warn when an inventory still uses compose_app_bundle_manifest and friends
  groundwork.infra.bundle_legacy_vars:
"""

RETURN = r"""
legacy:
  description: The deprecated variables that are set, each with the variable to set instead.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The deprecated variable.
      type: str
      sample: compose_app_bundle_manifest
    use:
      description: The C(bundle_*) variable that replaces it.
      type: str
      sample: bundle_manifest
"""
