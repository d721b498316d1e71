# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""paths_wanted: one description of the managed paths -> what paths_info compares, with the
checksum ansible.builtin.copy would compare for the same content."""

from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError
from ansible.utils.hashing import checksum_s

from ansible_collections.groundwork.infra.plugins.filter.paths_wanted import paths_wanted
from ansible_collections.groundwork.infra.plugins.modules.paths_info import wanted_state

CONTENT = '{\n    "log-driver": "json-file",\n    "note": "é"\n}\n'


def test_content_becomes_the_checksum_copy_compares_and_extra_keys_go():
    out = paths_wanted([
        {"path": "/etc/docker", "type": "directory", "mode": "0755", "owner": "root", "group": "root"},
        {"path": "/etc/docker/daemon.json", "type": "file", "mode": "0644", "owner": "root", "group": "root",
         "content": CONTENT, "validate": "dockerd --validate --config-file %s"},
        {"path": "/etc/x.conf", "type": "absent"},
    ])
    assert out == [
        {"path": "/etc/docker", "type": "directory", "mode": "0755", "owner": "root", "group": "root"},
        {"path": "/etc/docker/daemon.json", "type": "file", "mode": "0644", "owner": "root", "group": "root",
         "checksum": checksum_s(CONTENT)},
        {"path": "/etc/x.conf", "type": "absent"},
    ]
    # paths_info accepts every entry as it is.
    assert [wanted_state(entry) for entry in out][1]["checksum"] == checksum_s(CONTENT)


@pytest.mark.parametrize("entry, message", [
    ({"path": "/a", "type": "link"}, "/a: type must be one of file, directory, absent"),
    ({"path": "/a", "type": "file"}, "/a: a file needs its content"),
    ({"path": "/a", "type": "directory", "content": "x"}, "/a: only a file has content"),
    ({"type": "file", "content": "x"}, "every entry needs a path"),
])
def test_bad_entries_are_refused_naming_the_path(entry, message):
    with pytest.raises(AnsibleFilterError, match=message):
        paths_wanted([entry])
