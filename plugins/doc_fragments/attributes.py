# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment(object):
    # How the groundwork.infra modules support the attributes that ansible.builtin.action_common_attributes
    # (and its .flow section) describe: a module lists that fragment for the descriptions and these for the
    # support, as community.docker's attributes fragment does. Ansible merges the attributes one by one and
    # the module's own attributes: entry wins, so a module may add details or narrow the platforms.

    # Every module of the collection: runs on POSIX hosts.
    DOCUMENTATION = r"""
attributes:
  platform:
    platforms: posix
"""

    # Modules that only read (info modules): with ansible.builtin.action_common_attributes.
    INFO_MODULE = r"""
attributes:
  check_mode:
    support: full
    details: The module never changes anything.
  diff_mode:
    support: none
"""

    # Modules backed by an action plugin of the same name (plugins/action/):
    # with ansible.builtin.action_common_attributes.flow.
    ACTION_PLUGIN = r"""
attributes:
  action:
    support: full
  async:
    support: none
  bypass_host_loop:
    support: none
"""
