# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures of tests/docs; the helpers are in docskit.py."""

from __future__ import annotations

import pytest

from docskit import build_collection


@pytest.fixture(scope="session")
def collection_tarball(tmp_path_factory):
    """The collection tarball, built once for the session."""
    return build_collection(tmp_path_factory.mktemp("dist"))
