# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests for the minisign signature code, including interop with the real minisign binary."""

from __future__ import annotations

import base64
import os
import re
import struct
import subprocess

import pytest

from ansible_collections.groundwork.infra.plugins.module_utils import _minisign as ms
from ansible_collections.groundwork.infra.plugins.module_utils._bundle_errors import SignatureError

MINISIGN = "/usr/bin/minisign"
needs_minisign = pytest.mark.skipif(not os.access(MINISIGN, os.X_OK), reason="%s is not installed" % MINISIGN)

SIG_FILE = "manifest.json.minisig"
MESSAGE = b'{"bundle": "demo", "release": 7, "artifacts": []}\n'
# Cheap scrypt limits for tests (libsodium minimums); both branches of pickparams().
SMALL_LIMITS = [
    pytest.param(524288, 16777216, id="ops-ge-mem32"),
    pytest.param(32768, 16777216, id="ops-lt-mem32"),
]


def run_minisign(args, cwd, stdin=None, check=True):
    env = dict(os.environ)
    env.pop("MINISIGN_PASSWORD", None)  # newer releases read it; we feed stdin instead
    env["HOME"] = str(cwd)
    proc = subprocess.run(
        [MINISIGN] + list(args), cwd=str(cwd), input=stdin, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, encoding="utf-8", errors="replace", timeout=120, check=False,
    )
    if check and proc.returncode != 0:
        raise AssertionError("minisign %s failed (%d):\n%s\n%s" % (" ".join(args), proc.returncode, proc.stdout, proc.stderr))
    return proc


def minisign_help(tmp_path):
    proc = run_minisign(["-h"], tmp_path, check=False)
    return proc.stdout + proc.stderr


def b64_blob(line):
    return base64.b64decode(line)


@pytest.fixture(scope="module")
def ms_keys(tmp_path_factory):
    """Unencrypted key pair made by minisign -G -W."""
    path = tmp_path_factory.mktemp("ms-unencrypted")
    run_minisign(["-G", "-W", "-p", "key.pub", "-s", "key.key"], path)
    return path


@pytest.fixture(scope="module")
def own_keys():
    """Unencrypted key pair made by generate_keypair()."""
    public_text, secret_text = ms.generate_keypair()
    return public_text, secret_text, ms.load_secret_key(secret_text)


@pytest.fixture(scope="module")
def other_keys():
    public_text, secret_text = ms.generate_keypair()
    return public_text, ms.load_secret_key(secret_text)


# --------------------------------------------------------------------------
# Formats
# --------------------------------------------------------------------------


def test_generated_files_layout(own_keys):
    public_text, secret_text, secret = own_keys
    pub_lines = public_text.splitlines()
    assert public_text.endswith("\n") and len(pub_lines) == 2
    assert pub_lines[0] == "untrusted comment: minisign public key %s" % secret.key_id_hex
    blob = b64_blob(pub_lines[1])
    assert len(blob) == 42 and blob[:2] == b"Ed" and blob[2:10] == secret.key_id
    assert re.match(r"^[0-9A-F]{16}$", secret.key_id_hex)
    assert secret.key_id_hex == "%016X" % struct.unpack("<Q", secret.key_id)[0]

    sec_lines = secret_text.splitlines()
    assert sec_lines[0].startswith("untrusted comment: ")
    sblob = b64_blob(sec_lines[1])
    assert len(sblob) == 158
    assert sblob[:6] == b"Ed\x00\x00B2"
    assert sblob[6:38] == bytes(32)
    assert struct.unpack("<QQ", sblob[38:54]) == (0, 0)
    assert sblob[54:62] == secret.key_id
    assert sblob[62 + 32:126] == blob[10:]  # libsodium secret key = seed + public key

    pk = ms.parse_public_key(public_text)
    assert pk == secret.public_key()
    assert pk.raw == blob[10:] and pk.key_id == blob[2:10]
    assert ms.parse_public_key(pub_lines[1]) == pk  # bare base64 line
    assert ms.parse_public_key("\n  %s  \n" % pub_lines[1]) == pk
    assert ms.public_key_text(pk) == public_text
    assert ms.public_key_text(pub_lines[1], comment="release key").splitlines() == ["untrusted comment: release key", pub_lines[1]]


def test_encrypted_keypair_uses_minisign_defaults(monkeypatch):
    seen = {}

    def fake_stream(passphrase, salt, opslimit, memlimit, length=104):
        seen.update(passphrase=passphrase, salt=salt, opslimit=opslimit, memlimit=memlimit, length=length)
        return bytes(length)  # identity XOR keeps the test cheap

    monkeypatch.setattr(ms, "_derive_stream", fake_stream)
    public_text, secret_text = ms.generate_keypair(passphrase="s3cret")
    sblob = b64_blob(secret_text.splitlines()[1])
    assert sblob[:6] == b"EdScB2"
    assert struct.unpack("<QQ", sblob[38:54]) == (33554432, 1073741824)
    assert sblob[6:38] == seen["salt"] and sblob[6:38] != bytes(32)
    assert seen == dict(passphrase=b"s3cret", salt=seen["salt"], opslimit=33554432, memlimit=1073741824, length=104)
    assert ms.load_secret_key(secret_text, "anything").public_key() == ms.parse_public_key(public_text)


def test_scrypt_params_match_libsodium_pickparams():
    assert ms._scrypt_params(33554432, 1073741824) == (1 << 20, 8, 1)  # minisign's defaults: 1 GiB
    assert ms._scrypt_params(524288, 16777216) == (1 << 14, 8, 1)
    assert ms._scrypt_params(32768, 16777216) == (1 << 10, 8, 1)
    assert ms._scrypt_params(1, 16777216) == (1 << 10, 8, 1)  # opslimit clamped to 32768


@pytest.mark.parametrize("opslimit, memlimit", SMALL_LIMITS)
def test_encrypted_key_roundtrip(opslimit, memlimit):
    public_text, secret_text = ms.generate_keypair("correct horse", opslimit=opslimit, memlimit=memlimit)
    assert b64_blob(secret_text.splitlines()[1])[2:4] == b"Sc"
    secret = ms.load_secret_key(secret_text, "correct horse")
    assert secret.encrypted and secret.public_key() == ms.parse_public_key(public_text)
    with pytest.raises(SignatureError, match="wrong passphrase or corrupt secret key"):
        ms.load_secret_key(secret_text, "battery staple")
    with pytest.raises(SignatureError, match="passphrase is required"):
        ms.load_secret_key(secret_text)


def test_generate_refuses_bad_passphrase_and_limits():
    with pytest.raises(SignatureError, match="must not be empty"):
        ms.generate_keypair("")
    with pytest.raises(SignatureError, match="one line"):
        ms.generate_keypair("two\nlines", opslimit=32768, memlimit=16777216)
    with pytest.raises(SignatureError, match="too small"):
        ms.generate_keypair("pw", opslimit=1024, memlimit=16777216)


def test_corrupt_unencrypted_secret_key(own_keys):
    secret_text = own_keys[1]
    lines = secret_text.splitlines()
    blob = bytearray(b64_blob(lines[1]))
    blob[54 + 8 + 40] ^= 1  # a byte of the public half
    bad = "%s\n%s\n" % (lines[0], base64.b64encode(bytes(blob)).decode())
    with pytest.raises(SignatureError, match="corrupt secret key"):
        ms.load_secret_key(bad)
    blob = bytearray(b64_blob(lines[1]))
    blob[0:2] = b"XX"
    with pytest.raises(SignatureError, match="unsupported secret key signature algorithm"):
        ms.load_secret_key(base64.b64encode(bytes(blob)).decode())
    with pytest.raises(SignatureError, match="malformed minisign secret key"):
        ms.load_secret_key("untrusted comment: x\nnot base64!\n")


@pytest.mark.parametrize("text, words", [
    ("", "empty"),
    ("untrusted comment: minisign public key 0000\n", "base64 key line is missing"),
    ("untrusted comment: x\n!!!!\n", "not valid base64"),
    ("untrusted comment: x\n" + base64.b64encode(b"Ed" + bytes(30)).decode() + "\n", "decodes to 32 bytes, expected 42"),
    (base64.b64encode(b"XX" + bytes(40)).decode(), "unsupported public key algorithm"),
    ("untrusted comment: x\nAAAA\nBBBB\n", "expected one base64 line"),
])
def test_parse_public_key_rejects(text, words):
    with pytest.raises(SignatureError, match=words):
        ms.parse_public_key(text)


def test_parse_signature_fields(own_keys):
    secret = own_keys[2]
    text = ms.sign(MESSAGE, secret, "timestamp:1\tfile:manifest.json", untrusted_comment="hello")
    lines = text.split("\n")
    assert text.endswith("\n") and len(lines) == 5 and lines[4] == ""
    assert lines[0] == "untrusted comment: hello"
    assert lines[2] == "trusted comment: timestamp:1\tfile:manifest.json"
    sig = ms.parse_signature(text)
    assert sig.algorithm == "ED" and sig.prehashed
    assert sig.key_id == secret.key_id and sig.key_id_hex == secret.key_id_hex
    assert len(sig.signature) == 64 and len(sig.global_signature) == 64
    assert sig.trusted_comment == "timestamp:1\tfile:manifest.json"
    assert b64_blob(lines[1]) == b"ED" + secret.key_id + sig.signature
    # CRLF line endings are tolerated, as minisign trims them.
    assert ms.verify(MESSAGE, text.replace("\n", "\r\n"), [secret.public_key()]).trusted_comment == sig.trusted_comment
    legacy = ms.parse_signature(ms.sign(MESSAGE, secret, "c", prehash=False))
    assert legacy.algorithm == "Ed" and not legacy.prehashed


def test_sign_rejects_multiline_comments(own_keys):
    secret = own_keys[2]
    with pytest.raises(SignatureError, match="trusted comment must be a single line"):
        ms.sign(MESSAGE, secret, "a\nb")
    with pytest.raises(SignatureError, match="untrusted comment must be a single line"):
        ms.sign(MESSAGE, secret, "ok", untrusted_comment="a\rb")
    with pytest.raises(SignatureError, match="too long"):
        ms.sign(MESSAGE, secret, "x" * 8174)


def test_verify_accepts_key_texts_and_picks_the_right_key(own_keys, other_keys):
    public_text, secret = own_keys[0], own_keys[2]
    other_public_text, other_secret = other_keys
    text = ms.sign(MESSAGE, secret, "release 7")
    result = ms.verify(MESSAGE, text, [other_public_text, public_text.splitlines()[1]], file=SIG_FILE)
    assert result.key_id_hex == secret.key_id_hex and result.prehashed and result.trusted_comment == "release 7"
    result = ms.verify(MESSAGE, ms.sign(MESSAGE, other_secret, "x", prehash=False), [ms.parse_public_key(public_text), other_public_text])
    assert result.key_id_hex == other_secret.key_id_hex and not result.prehashed


def test_verify_require_prehashed(own_keys):
    secret = own_keys[2]
    legacy = ms.sign(MESSAGE, secret, "c", prehash=False)
    with pytest.raises(SignatureError, match="legacy"):
        ms.verify(MESSAGE, legacy, [secret.public_key()], require_prehashed=True)
    assert ms.verify(MESSAGE, ms.sign(MESSAGE, secret, "c"), [secret.public_key()], require_prehashed=True).prehashed


def test_verify_without_trusted_keys(own_keys):
    secret = own_keys[2]
    with pytest.raises(SignatureError, match="no trusted public keys"):
        ms.verify(MESSAGE, ms.sign(MESSAGE, secret, "c"), [], file=SIG_FILE)
    with pytest.raises(SignatureError, match="trusted public key 2 of 2"):
        ms.verify(MESSAGE, ms.sign(MESSAGE, secret, "c"), [secret.public_key(), "garbage"], file=SIG_FILE)


def test_missing_cryptography_is_reported(monkeypatch, own_keys):
    public_text, secret_text, secret = own_keys
    text = ms.sign(MESSAGE, secret, "c")
    monkeypatch.setattr(ms, "HAS_CRYPTOGRAPHY", False)
    for call in (
        lambda: ms.verify(MESSAGE, text, [public_text], file=SIG_FILE),
        lambda: ms.sign(MESSAGE, secret, "c"),
        lambda: ms.load_secret_key(secret_text),
        ms.generate_keypair,
    ):
        with pytest.raises(SignatureError, match="`cryptography` Python library is required on the controller"):
            call()
    assert ms.parse_signature(text).key_id == secret.key_id  # parsing needs no cryptography


# --------------------------------------------------------------------------
# Tampering
# --------------------------------------------------------------------------


def _replace_line(text, index, value):
    lines = text.split("\n")
    lines[index] = value
    return "\n".join(lines)


def _edit_blob(text, index, edit):
    lines = text.split("\n")
    blob = bytearray(base64.b64decode(lines[index]))
    edit(blob)
    lines[index] = base64.b64encode(bytes(blob)).decode()
    return "\n".join(lines)


def _flip(offset):
    def edit(blob):
        blob[offset] ^= 0x01
    return edit


def _set_alg(value):
    def edit(blob):
        blob[0:2] = value
    return edit


TAMPER_CASES = [
    pytest.param(lambda m, s: (m + b" ", s), "signature does not match the manifest contents", id="message-appended"),
    pytest.param(lambda m, s: (m.replace(b"7", b"8"), s), "signature does not match the manifest contents", id="message-edited"),
    pytest.param(lambda m, s: (m, _edit_blob(s, 1, _flip(20))), "signature does not match the manifest contents", id="signature-bit"),
    pytest.param(lambda m, s: (m, _replace_line(s, 2, "trusted comment: release 9")), "trusted comment signature is invalid", id="trusted-comment"),
    pytest.param(lambda m, s: (m, _edit_blob(s, 3, _flip(5))), "trusted comment signature is invalid", id="global-signature-bit"),
    pytest.param(lambda m, s: (m, _edit_blob(s, 1, _set_alg(b"XY"))), "unsupported signature algorithm 'XY'", id="algorithm-XY"),
    pytest.param(lambda m, s: (m, _edit_blob(s, 1, _set_alg(b"Sc"))), "unsupported signature algorithm 'Sc'", id="algorithm-Sc"),
    pytest.param(lambda m, s: (m, ""), "malformed minisign signature: expected 4 lines", id="empty"),
    pytest.param(lambda m, s: (m, "\n".join(s.split("\n")[:2]) + "\n"), "malformed minisign signature: expected 4 lines", id="stripped-to-2-lines"),
    pytest.param(lambda m, s: (m, "garbage\n" * 4), "malformed minisign signature: line 1 must start with", id="garbage-lines"),
    pytest.param(lambda m, s: (m, _replace_line(s, 1, "%%%not-base64%%%")), "malformed minisign signature (line 2): not valid base64", id="garbage-base64"),
    pytest.param(lambda m, s: (m, _replace_line(s, 1, s.split("\n")[1][:40])), "malformed minisign signature (line 2)", id="truncated-base64"),
    pytest.param(lambda m, s: (m, _edit_blob(s, 1, lambda b: b.extend(b"\x00" * 3))), "decodes to 77 bytes, expected 74", id="long-blob"),
    pytest.param(lambda m, s: (m, _replace_line(s, 2, "release 7")), "line 3 must start with 'trusted comment: '", id="no-trusted-prefix"),
    pytest.param(lambda m, s: (m, _replace_line(s, 3, "AAAA")), "comment signature (line 4): decodes to 3 bytes", id="short-global"),
    pytest.param(lambda m, s: (m, s + "extra line\n"), "expected 4 lines", id="extra-line"),
    pytest.param(lambda m, s: (m, b"\xff\xfe" + s.encode()), "not valid UTF-8", id="binary"),
]


@pytest.mark.parametrize("prehash", [True, False], ids=["prehashed", "legacy"])
@pytest.mark.parametrize("tamper, words", TAMPER_CASES)
def test_tampering_is_detected(own_keys, tamper, words, prehash):
    public_text, secret = own_keys[0], own_keys[2]
    good = ms.sign(MESSAGE, secret, "release 7", prehash=prehash)
    assert ms.verify(MESSAGE, good, [public_text], file=SIG_FILE).trusted_comment == "release 7"
    message, text = tamper(MESSAGE, good)
    with pytest.raises(SignatureError) as info:
        ms.verify(message, text, [public_text], file=SIG_FILE)
    assert words in info.value.reason
    assert info.value.file == SIG_FILE and SIG_FILE in str(info.value)
    assert info.value.kind == "signature"


def test_signature_by_untrusted_key(own_keys, other_keys):
    public_text, secret = own_keys[0], own_keys[2]
    other_public_text, other_secret = other_keys
    text = ms.sign(MESSAGE, other_secret, "release 7")
    with pytest.raises(SignatureError) as info:
        ms.verify(MESSAGE, text, [public_text], file=SIG_FILE)
    reason = info.value.reason
    assert "not among the trusted keys" in reason
    assert other_secret.key_id_hex in reason and secret.key_id_hex in reason
    assert SIG_FILE in str(info.value)
    # Same key id, different key (a forged id): the signature check still fails.
    forged = ms.PublicKey(secret.key_id, ms.parse_public_key(other_public_text).raw)
    with pytest.raises(SignatureError, match="does not match the manifest contents"):
        ms.verify(MESSAGE, ms.sign(MESSAGE, secret, "c"), [forged], file=SIG_FILE)


# --------------------------------------------------------------------------
# Interop with the real minisign binary
# --------------------------------------------------------------------------


@needs_minisign
def test_key_id_hex_matches_minisign(ms_keys):
    pub_text = (ms_keys / "key.pub").read_text()
    # minisign prints the id with %X: an id starting with a zero nibble comes out shorter.
    printed = re.match(r"untrusted comment: minisign public key ([0-9A-F]{1,16})$", pub_text.splitlines()[0]).group(1).zfill(16)
    pk = ms.parse_public_key(pub_text)
    assert pk.key_id_hex == printed
    secret = ms.load_secret_key((ms_keys / "key.key").read_text())
    assert not secret.encrypted
    assert secret.key_id_hex == printed and secret.public_key() == pk
    assert ms.public_key_text(pk).splitlines()[1] == pub_text.splitlines()[1]


@needs_minisign
def test_verify_minisign_default_signature(ms_keys, tmp_path):
    (tmp_path / "manifest.json").write_bytes(MESSAGE)
    run_minisign(["-S", "-s", str(ms_keys / "key.key"), "-m", "manifest.json", "-t", "bundle demo release 7"], tmp_path)
    text = (tmp_path / "manifest.json.minisig").read_text()
    sig = ms.parse_signature(text)
    assert sig.algorithm == "ED", "minisign signs prehashed by default"
    result = ms.verify(MESSAGE, text, [(ms_keys / "key.pub").read_text()], file="manifest.json.minisig")
    assert result.prehashed and result.trusted_comment == "bundle demo release 7"
    assert result.key_id_hex == ms.parse_public_key((ms_keys / "key.pub").read_text()).key_id_hex
    with pytest.raises(SignatureError, match="signature does not match the manifest contents"):
        ms.verify(MESSAGE + b"x", text, [(ms_keys / "key.pub").read_text()], file="manifest.json.minisig")


@needs_minisign
def test_verify_minisign_legacy_signature(ms_keys, tmp_path):
    if "-l" not in minisign_help(tmp_path):
        pytest.skip("this minisign has no -l (legacy signature) option")
    (tmp_path / "manifest.json").write_bytes(MESSAGE)
    run_minisign(["-S", "-l", "-s", str(ms_keys / "key.key"), "-m", "manifest.json", "-x", "legacy.minisig"], tmp_path)
    text = (tmp_path / "legacy.minisig").read_text()
    assert ms.parse_signature(text).algorithm == "Ed"
    result = ms.verify(MESSAGE, text, [(ms_keys / "key.pub").read_text()])
    assert not result.prehashed and result.trusted_comment.endswith("\tfile:manifest.json")
    with pytest.raises(SignatureError, match="legacy"):
        ms.verify(MESSAGE, text, [(ms_keys / "key.pub").read_text()], require_prehashed=True)


@needs_minisign
@pytest.mark.parametrize("prehash", [True, False], ids=["prehashed", "legacy"])
def test_minisign_accepts_our_signature(ms_keys, tmp_path, prehash):
    (tmp_path / "manifest.json").write_bytes(MESSAGE)
    secret = ms.load_secret_key((ms_keys / "key.key").read_text())
    comment = "bundle demo\trelease 7 \u2713"
    (tmp_path / "ours.minisig").write_text(ms.sign(MESSAGE, secret, comment, prehash=prehash), encoding="utf-8")
    proc = run_minisign(["-V", "-p", str(ms_keys / "key.pub"), "-m", "manifest.json", "-x", "ours.minisig"], tmp_path)
    assert "Signature and comment signature verified" in proc.stdout
    assert "Trusted comment: %s" % comment in proc.stdout
    # -H refuses legacy signatures, accepts prehashed ones.
    proc = run_minisign(["-V", "-H", "-p", str(ms_keys / "key.pub"), "-m", "manifest.json", "-x", "ours.minisig"], tmp_path, check=False)
    assert (proc.returncode == 0) is prehash
    # A tampered file is refused by minisign too.
    (tmp_path / "manifest.json").write_bytes(MESSAGE + b" ")
    proc = run_minisign(["-V", "-p", str(ms_keys / "key.pub"), "-m", "manifest.json", "-x", "ours.minisig"], tmp_path, check=False)
    assert proc.returncode != 0 and "Signature verification failed" in proc.stderr


@needs_minisign
@pytest.mark.parametrize("prehash", [True, False], ids=["prehashed", "legacy"])
def test_our_signature_is_byte_identical_to_minisign(ms_keys, tmp_path, prehash):
    """Ed25519 is deterministic: same key, message and comments give the same file."""
    if not prehash and "-l" not in minisign_help(tmp_path):
        pytest.skip("this minisign has no -l (legacy signature) option")
    (tmp_path / "manifest.json").write_bytes(MESSAGE)
    args = ["-S", "-s", str(ms_keys / "key.key"), "-m", "manifest.json", "-c", "untrusted words", "-t", "trusted words"]
    run_minisign(args + ([] if prehash else ["-l"]), tmp_path)
    secret = ms.load_secret_key((ms_keys / "key.key").read_text())
    ours = ms.sign(MESSAGE, secret, "trusted words", untrusted_comment="untrusted words", prehash=prehash)
    assert ours == (tmp_path / "manifest.json.minisig").read_text()


@needs_minisign
def test_minisign_uses_our_unencrypted_key(own_keys, tmp_path):
    public_text, secret_text, secret = own_keys
    (tmp_path / "own.pub").write_text(public_text)
    (tmp_path / "own.key").write_text(secret_text)
    (tmp_path / "manifest.json").write_bytes(MESSAGE)
    # -p makes minisign check that the signature verifies with our public key.
    run_minisign(["-S", "-s", "own.key", "-p", "own.pub", "-m", "manifest.json", "-t", "from minisign"], tmp_path)
    result = ms.verify(MESSAGE, (tmp_path / "manifest.json.minisig").read_text(), [public_text])
    assert result.key_id_hex == secret.key_id_hex and result.trusted_comment == "from minisign"
    run_minisign(["-R", "-s", "own.key", "-p", "recreated.pub"], tmp_path)
    recreated = (tmp_path / "recreated.pub").read_text().splitlines()
    assert recreated[1] == public_text.splitlines()[1]
    # Same key id in the comment, allowing for minisign's unpadded %X.
    assert recreated[0].rsplit(" ", 1)[1].zfill(16) == secret.key_id_hex


@needs_minisign
@pytest.mark.parametrize("opslimit, memlimit", SMALL_LIMITS)
def test_minisign_decrypts_our_encrypted_key(tmp_path, opslimit, memlimit):
    public_text, secret_text = ms.generate_keypair("correct horse", opslimit=opslimit, memlimit=memlimit)
    (tmp_path / "enc.pub").write_text(public_text)
    (tmp_path / "enc.key").write_text(secret_text)
    (tmp_path / "manifest.json").write_bytes(MESSAGE)
    sign_args = ["-S", "-s", "enc.key", "-p", "enc.pub", "-m", "manifest.json", "-t", "encrypted"]
    proc = run_minisign(sign_args, tmp_path, stdin="battery staple\n", check=False)
    assert proc.returncode != 0 and "Wrong password" in proc.stderr
    run_minisign(sign_args, tmp_path, stdin="correct horse\n")
    assert ms.verify(MESSAGE, (tmp_path / "manifest.json.minisig").read_text(), [public_text]).trusted_comment == "encrypted"


@pytest.fixture(scope="module")
def ms_encrypted_keys(tmp_path_factory):
    """Key pair encrypted by minisign itself (default scrypt limits: ~1 GiB, a few seconds)."""
    path = tmp_path_factory.mktemp("ms-encrypted")
    proc = run_minisign(["-G", "-p", "key.pub", "-s", "key.key"], path, stdin="hunter2 pass\nhunter2 pass\n", check=False)
    if proc.returncode != 0 or not (path / "key.key").exists():
        pytest.skip("minisign could not read a password from stdin here: %s" % proc.stderr.strip())
    return path


@needs_minisign
def test_load_minisign_encrypted_key(ms_encrypted_keys, tmp_path):
    key_text = (ms_encrypted_keys / "key.key").read_text()
    pub_text = (ms_encrypted_keys / "key.pub").read_text()
    sblob = b64_blob(key_text.splitlines()[1])
    assert sblob[2:4] == b"Sc"
    assert struct.unpack("<QQ", sblob[38:54]) == (ms.DEFAULT_OPSLIMIT, ms.DEFAULT_MEMLIMIT)
    with pytest.raises(SignatureError, match="passphrase is required"):
        ms.load_secret_key(key_text)
    secret = ms.load_secret_key(key_text, "hunter2 pass")
    assert secret.encrypted and secret.public_key() == ms.parse_public_key(pub_text)
    # The decrypted key signs something minisign accepts.
    (tmp_path / "manifest.json").write_bytes(MESSAGE)
    (tmp_path / "manifest.json.minisig").write_text(ms.sign(MESSAGE, secret, "decrypted"))
    proc = run_minisign(["-V", "-p", str(ms_encrypted_keys / "key.pub"), "-m", "manifest.json"], tmp_path)
    assert "Trusted comment: decrypted" in proc.stdout


@needs_minisign
def test_load_minisign_encrypted_key_wrong_passphrase(ms_encrypted_keys):
    with pytest.raises(SignatureError, match="wrong passphrase or corrupt secret key"):
        ms.load_secret_key((ms_encrypted_keys / "key.key").read_text(), "hunter3 pass")
