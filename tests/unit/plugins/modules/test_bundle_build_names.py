# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""bundle_build and the manifest parser agree on artifact file names: what one writes the other reads."""

from __future__ import annotations

import pytest

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.groundwork.infra.plugins.module_utils._bundle_errors import BundleError
from ansible_collections.groundwork.infra.plugins.module_utils._bundle_manifest import load_manifest
from ansible_collections.groundwork.infra.plugins.modules import bundle_build


class Module(object):
    """What BundleBuilder reads of an AnsibleModule: validated params, check mode, diff."""

    def __init__(self, **params):
        result = ArgumentSpecValidator(bundle_build.ARGUMENT_SPEC).validate(params)
        assert not result.error_messages, result.error_messages
        self.params = result.validated_parameters
        self.check_mode = False
        self._diff = False


def build(dest, path):
    components = [{"name": "pkg", "version": "1.0", "kind": "files", "files": [str(path)]}]
    return bundle_build.BundleBuilder(Module(dest=str(dest), release="2026.12.0", issued="2026-12-01T10:00:00Z",
                                             components=components)).run()


def test_a_debian_package_file_name_with_a_tilde_builds_and_reads_back(tmp_path):
    # Debian's containerd is 1.6.20~ds1-1: its package file carries the "~".
    deb = tmp_path / "containerd_1.6.20~ds1-1_amd64.deb"
    deb.write_bytes(b"!<arch>\n")
    build(tmp_path / "out", deb)
    out = tmp_path / "out"
    manifest = load_manifest((out / "manifest.yaml").read_bytes(), source="file://%s/manifest.yaml" % out,
                             base_url="file://%s/manifest.yaml" % out)
    (artifact,) = manifest.components[0].artifacts
    assert artifact.name == "containerd_1.6.20~ds1-1_amd64.deb"
    assert (out / "artifacts" / "pkg" / "1.0" / artifact.name).read_bytes() == b"!<arch>\n"


@pytest.mark.parametrize("name", ["pkg 1.0.deb", "-pkg.deb", "~pkg.deb", "pkg;rm.deb", "pkg\u00e9.deb"])
def test_a_file_name_the_parser_would_refuse_is_refused_before_anything_is_written(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"data")
    with pytest.raises(BundleError) as err:
        build(tmp_path / "out", path)
    assert "cannot be an artifact name" in str(err.value)
    assert name in str(err.value)
    assert not (tmp_path / "out").exists()
