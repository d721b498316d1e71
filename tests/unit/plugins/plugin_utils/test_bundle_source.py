# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""load_release on the controller: expiry, signatures with trusted keys (threats 2, 3, 5), and
manifest or signature paths that are not regular files (threat 20).

Issue 14 item 8: before these tests, making load_release skip the expiry check, or skip the
signature verification although trusted keys are set, left every unit test green.
"""

from __future__ import annotations

import datetime
import os

import pytest
import yaml

from ansible_collections.groundwork.infra.plugins.module_utils import _minisign as ms
from ansible_collections.groundwork.infra.plugins.module_utils._bundle_errors import (
    DownloadError,
    ManifestError,
    SignatureError,
)
from ansible_collections.groundwork.infra.plugins.plugin_utils._bundle_source import load_release

SHA256 = "ab" * 32


def manifest_bytes(release="2026.11.0", expires="2099-01-01T00:00:00Z", issued="2026-11-23T10:00:00Z", artifacts=None):
    data = {
        "format": 1, "release": release, "issued": issued, "expires": expires,
        "components": [{"name": "web", "version": "1.0.0", "kind": "files",
                        "artifacts": artifacts or [{"name": "web.tar.gz", "sha256": SHA256, "size": 3}]}],
    }
    return yaml.safe_dump(data, sort_keys=False).encode("utf-8")


def args(manifest, **extra):
    data = {"manifest": str(manifest), "signature": None, "trusted_keys": [], "allow_expired": False,
            "timeout": 5, "retries": 0, "validate_certs": True, "max_manifest_size": 1024 * 1024}
    data.update(extra)
    return data


@pytest.fixture(scope="module")
def keys():
    """Two key pairs: (public text, secret key) each."""
    out = []
    for _pair in range(2):
        public_text, secret_text = ms.generate_keypair()
        out.append((public_text, ms.load_secret_key(secret_text)))
    return out


@pytest.fixture
def release_dir(tmp_path):
    path = tmp_path / "release"
    path.mkdir()
    return path


def write_signed(directory, data, secret, name="manifest.yaml"):
    manifest = directory / name
    manifest.write_bytes(data)
    (directory / (name + ".minisig")).write_text(ms.sign(data, secret, "release test"))
    return manifest


# -- expiry (threat 5; issue 14 item 8) ---------------------------------------------------------------

def test_load_release_refuses_an_expired_manifest(release_dir):
    """Row 5 at load_release: a manifest past its expires is refused unless allow_expired."""
    manifest = release_dir / "manifest.yaml"
    manifest.write_bytes(manifest_bytes(issued="2020-01-01T00:00:00Z", expires="2020-02-01T00:00:00Z"))
    with pytest.raises(ManifestError) as info:
        load_release(args(manifest))
    assert "expired at 2020-02-01T00:00:00Z" in info.value.reason and "allow_expired" in info.value.reason
    loaded, audit = load_release(args(manifest, allow_expired=True))
    assert loaded.release == "2026.11.0" and audit["release"] == "2026.11.0"


def test_load_release_accepts_a_manifest_that_has_not_expired(release_dir):
    expires = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    manifest = release_dir / "manifest.yaml"
    manifest.write_bytes(manifest_bytes(expires=expires))
    loaded, audit = load_release(args(manifest))
    assert loaded.release == "2026.11.0" and audit["signed"] is False


# -- signatures with trusted keys (threats 2, 3; issue 14 item 8) --------------------------------------

def test_load_release_verifies_the_signature_with_trusted_keys(release_dir, keys):
    """Rows 2-3 at load_release: a good signature is verified and reported in the audit."""
    (public, secret), _other = keys
    manifest = write_signed(release_dir, manifest_bytes(), secret)
    _loaded, audit = load_release(args(manifest, trusted_keys=[public]))
    assert audit["signed"] is True and audit["key_id"] and audit["trusted_comment"] == "release test"


def test_load_release_refuses_a_signature_by_another_key(release_dir, keys):
    """Row 2: signed by a key that is not trusted: refused (skipping verify() lets it through)."""
    (public, _secret), (_other_public, other_secret) = keys
    manifest = write_signed(release_dir, manifest_bytes(), other_secret)
    with pytest.raises(SignatureError):
        load_release(args(manifest, trusted_keys=[public]))


def test_load_release_refuses_a_tampered_manifest(release_dir, keys):
    """Row 2: the manifest changed after it was signed (a digest swapped): refused."""
    (public, secret), _other = keys
    manifest = write_signed(release_dir, manifest_bytes(), secret)
    manifest.write_bytes(manifest.read_bytes().replace(SHA256.encode(), b"cd" * 32))
    with pytest.raises(SignatureError):
        load_release(args(manifest, trusted_keys=[public]))


def test_load_release_refuses_an_unsigned_manifest_when_keys_are_set(release_dir, keys):
    """Row 3: signature stripped while trusted_keys are set: refused; without keys it is accepted."""
    (public, _secret), _other = keys
    manifest = release_dir / "manifest.yaml"
    manifest.write_bytes(manifest_bytes())
    with pytest.raises(SignatureError, match="could not be read"):
        load_release(args(manifest, trusted_keys=[public]))
    _loaded, audit = load_release(args(manifest))
    assert audit["signed"] is False


def test_load_release_uses_the_signature_option(release_dir, keys):
    """The signature option names another location; a wrong one there is refused too."""
    (public, secret), (_op, other_secret) = keys
    data = manifest_bytes()
    manifest = release_dir / "manifest.yaml"
    manifest.write_bytes(data)
    good = release_dir / "good.minisig"
    good.write_text(ms.sign(data, secret, "release test"))
    bad = release_dir / "bad.minisig"
    bad.write_text(ms.sign(data, other_secret, "release test"))
    assert load_release(args(manifest, trusted_keys=[public], signature=str(good)))[1]["signed"] is True
    with pytest.raises(SignatureError):
        load_release(args(manifest, trusted_keys=[public], signature=str(bad)))


# -- threat 20: not a regular file ------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["fifo", "directory", "device"])
def test_row20_manifest_that_is_not_a_regular_file(release_dir, no_hang, kind):
    """Row 20: a FIFO (would block forever on open), a directory or a device as the manifest is
    refused at once with a download error naming what it is."""
    path = release_dir / "manifest.yaml"
    if kind == "fifo":
        os.mkfifo(str(path))
    elif kind == "directory":
        path.mkdir()
    else:
        path = "/dev/zero"
    with pytest.raises(DownloadError) as info:
        load_release(args(path))
    assert "not a regular file" in info.value.reason
    assert {"fifo": "a FIFO", "directory": "a directory", "device": "a character device"}[kind] in info.value.reason
    with pytest.raises(DownloadError, match="not a regular file"):
        load_release(args("file://" + str(path)))


def test_row20_signature_that_is_a_fifo(release_dir, keys, no_hang):
    """Row 20: a FIFO where the signature belongs is a signature error, not a hang."""
    (public, _secret), _other = keys
    manifest = release_dir / "manifest.yaml"
    manifest.write_bytes(manifest_bytes())
    os.mkfifo(str(release_dir / "manifest.yaml.minisig"))
    with pytest.raises(SignatureError) as info:
        load_release(args(manifest, trusted_keys=[public]))
    assert "is a FIFO, not a regular file" in info.value.reason


# -- threat 23: a manifest cannot ship controller files ------------------------------------------------

def test_row23_local_manifest_cannot_reach_out_of_its_directory(release_dir, tmp_path):
    """Row 23 at load_release: '../' out of a local manifest's directory is refused before anything
    is read, and the error prints neither the digest nor the size of the file it pointed at."""
    import hashlib
    secret = tmp_path / "id_ed25519"
    secret.write_bytes(b"PRIVATE KEY MATERIAL\n")
    digest = hashlib.sha256(secret.read_bytes()).hexdigest()
    manifest = release_dir / "manifest.yaml"
    manifest.write_bytes(manifest_bytes(artifacts=[{"name": "web.bin", "url": "../id_ed25519", "sha256": digest,
                                                    "size": secret.stat().st_size}]))
    with pytest.raises(ManifestError) as info:
        load_release(args(manifest))
    assert "outside the release" in info.value.reason
    assert digest not in info.value.message


def test_row23_local_manifest_with_contained_file_artifacts_loads(release_dir):
    """Row 23, the other side: a local release directory with relative and file:// locations inside it."""
    manifest = release_dir / "manifest.yaml"
    inside = (release_dir / "web.bin").as_uri()
    manifest.write_bytes(manifest_bytes(artifacts=[{"name": "web.bin", "url": inside, "sha256": SHA256, "size": 3},
                                                   {"name": "b.bin", "sha256": SHA256, "size": 3}]))
    loaded, _audit = load_release(args(manifest))
    assert [a.url for a in loaded.components[0].artifacts] == [inside, (release_dir / "b.bin").as_uri()]
