# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""storage_error: the one helper that turns an OSError into a StorageError for every bundle module."""

from __future__ import annotations

import errno

import pytest

from ansible_collections.groundwork.infra.plugins.module_utils import _bundle_release
from ansible_collections.groundwork.infra.plugins.module_utils._bundle_errors import StorageError, storage_error


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EDQUOT], ids=["ENOSPC", "EDQUOT"])
def test_a_full_disk_or_quota_says_no_space(code):
    err = storage_error(OSError(code, "whatever the OS says"), "writing 'big.bin'", component="web", file="web.tgz")
    assert isinstance(err, StorageError)
    assert err.reason == "no space left on device while writing 'big.bin'"
    assert (err.component, err.file, err.kind) == ("web", "web.tgz", "storage")


def test_where_names_the_filesystem():
    err = storage_error(OSError(errno.ENOSPC, "No space left on device"), "writing", where="the cache filesystem")
    assert err.reason == "no space left on the cache filesystem while writing"


def test_other_errors_say_what_failed_and_why():
    err = storage_error(OSError(errno.EIO, "Input/output error"), "flushing the download to disk")
    assert err.reason == "flushing the download to disk failed: Input/output error"


def test_the_file_the_os_names_is_added_once():
    exc = OSError(errno.EACCES, "Permission denied", "/srv/bundles/.groundwork")
    assert storage_error(exc, "creating a staging directory").reason == \
        "creating a staging directory failed: Permission denied (/srv/bundles/.groundwork)"
    assert storage_error(exc, "creating /srv/bundles/.groundwork").reason == \
        "creating /srv/bundles/.groundwork failed: Permission denied"


def test_the_release_module_reports_a_quota_as_no_space(tmp_path, monkeypatch):
    """The host side used to know only ENOSPC: an exhausted quota (EDQUOT) read as a generic failure."""
    def quota(*_args, **_kwargs):
        raise OSError(errno.EDQUOT, "Disk quota exceeded")

    destination = _bundle_release.Destination(str(tmp_path / "dest"))
    monkeypatch.setattr(_bundle_release.os, "makedirs", quota)
    with pytest.raises(StorageError, match="no space left on device while creating"):
        destination._ensure_dirs()
