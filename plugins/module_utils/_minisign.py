# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to groundwork.infra: minisign (Ed25519) keys and signatures for bundle manifests."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import struct
import time

from ansible_collections.groundwork.infra.plugins.module_utils._bundle_errors import SignatureError

try:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
except ImportError:  # pragma: no cover - exercised by monkeypatching HAS_CRYPTOGRAPHY
    HAS_CRYPTOGRAPHY = False
else:
    HAS_CRYPTOGRAPHY = True

# Binary layout, as in minisign's minisign.h.
SIGALG = b"Ed"  # signature over the raw message (legacy)
SIGALG_HASHED = b"ED"  # signature over BLAKE2b-512(message), minisign's default
KDFALG = b"Sc"  # scrypt (crypto_pwhash_scryptsalsa208sha256)
KDFNONE = b"\x00\x00"  # unencrypted secret key (minisign -G -W)
CHKALG = b"B2"  # BLAKE2b-256 checksum of the secret key
KEYNUMBYTES = 8
PUBLICKEYBYTES = 32
SECRETKEYBYTES = 64  # libsodium form: seed (32) + public key (32)
SIGNATUREBYTES = 64
CHECKSUMBYTES = 32
SALTBYTES = 32
KEYNUM_SK_BYTES = KEYNUMBYTES + SECRETKEYBYTES + CHECKSUMBYTES  # 104
PUBKEY_BLOB_BYTES = 2 + KEYNUMBYTES + PUBLICKEYBYTES  # 42
SIG_BLOB_BYTES = 2 + KEYNUMBYTES + SIGNATUREBYTES  # 74
SECKEY_BLOB_BYTES = 2 + 2 + 2 + SALTBYTES + 8 + 8 + KEYNUM_SK_BYTES  # 158

COMMENT_PREFIX = "untrusted comment: "
TRUSTED_COMMENT_PREFIX = "trusted comment: "
# minisign reads these lines with fgets() into 1024 and 8192 byte buffers.
COMMENTMAXBYTES = 1024
TRUSTEDCOMMENTMAXBYTES = 8192
MAX_UNTRUSTED_COMMENT_BYTES = COMMENTMAXBYTES - len(COMMENT_PREFIX) - 2  # 1003
MAX_TRUSTED_COMMENT_BYTES = TRUSTEDCOMMENTMAXBYTES - len(TRUSTED_COMMENT_PREFIX) - 2  # 8173

DEFAULT_UNTRUSTED_COMMENT = "signature from groundwork.infra secret key"

# crypto_pwhash_scryptsalsa208sha256_{OPS,MEM}LIMIT_SENSITIVE, what minisign -G uses.
DEFAULT_OPSLIMIT = 33554432
DEFAULT_MEMLIMIT = 1073741824
# crypto_pwhash_scryptsalsa208sha256_{OPS,MEM}LIMIT_MIN
MIN_OPSLIMIT = 32768
MIN_MEMLIMIT = 16777216
# hashlib.scrypt() refuses maxmem above INT_MAX; also refuse absurd work factors
# (minisign's defaults are N * r * p = 2**23).
_MAX_SCRYPT_MEMORY = 2 ** 31 - 1
_MAX_SCRYPT_WORK = 2 ** 27

_CRYPTOGRAPHY_REQUIRED = "the `cryptography` Python library is required on the controller for minisign signatures"


def _require_cryptography(file=None):
    if not HAS_CRYPTOGRAPHY:
        raise SignatureError(_CRYPTOGRAPHY_REQUIRED, file=file)


def _key_id_hex(key_id):
    """Key id as minisign prints it: %016X of the little-endian 64-bit number."""
    return "%016X" % int.from_bytes(key_id, "little")


def _blake2b_512(data):
    return hashlib.blake2b(data, digest_size=64).digest()


def _checksum(sig_alg, key_id, secret_key):
    return hashlib.blake2b(sig_alg + key_id + secret_key, digest_size=CHECKSUMBYTES).digest()


def _xor(data, stream):
    return bytes(a ^ b for a, b in zip(data, stream))


def _as_text(text, what, file=None):
    if isinstance(text, (bytes, bytearray)):
        try:
            return bytes(text).decode("utf-8")
        except UnicodeDecodeError:
            raise SignatureError("malformed %s: not valid UTF-8 text" % what, file=file) from None
    if not isinstance(text, str):
        raise SignatureError("malformed %s: expected text, got %s" % (what, type(text).__name__), file=file)
    return text


def _b64decode(value, expected_len, what, file=None):
    try:
        data = base64.b64decode(value.strip().encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise SignatureError("malformed %s: not valid base64" % what, file=file) from None
    if len(data) != expected_len:
        raise SignatureError("malformed %s: decodes to %d bytes, expected %d" % (what, len(data), expected_len), file=file)
    return data


def _b64encode(data):
    return base64.b64encode(data).decode("ascii")


def _key_blob_line(text, what, file=None):
    """Return the base64 line of a key file (comment line optional)."""
    text = _as_text(text, what, file)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        raise SignatureError("malformed %s: empty" % what, file=file)
    if lines[0].startswith("untrusted comment:"):
        lines = lines[1:]
        if not lines:
            raise SignatureError("malformed %s: only a comment line, the base64 key line is missing" % what, file=file)
    if len(lines) != 1:
        raise SignatureError("malformed %s: expected one base64 line, found %d lines" % (what, len(lines)), file=file)
    return lines[0]


def _check_comment(comment, what, max_bytes):
    if not isinstance(comment, str):
        raise SignatureError("%s must be a string, got %s" % (what, type(comment).__name__))
    for char, name in (("\n", "a newline"), ("\r", "a carriage return"), ("\x00", "a NUL byte")):
        if char in comment:
            raise SignatureError("%s must be a single line; it contains %s" % (what, name))
    encoded = comment.encode("utf-8")
    if len(encoded) > max_bytes:
        raise SignatureError("%s is too long: %d bytes, at most %d" % (what, len(encoded), max_bytes))
    return encoded


# --------------------------------------------------------------------------
# Value objects
# --------------------------------------------------------------------------


class PublicKey:
    """A minisign public key: key id (8 bytes) and raw Ed25519 key (32 bytes)."""

    __slots__ = ("key_id", "raw")

    def __init__(self, key_id, raw):
        if len(key_id) != KEYNUMBYTES or len(raw) != PUBLICKEYBYTES:
            raise SignatureError("malformed minisign public key: wrong key id or key length")
        self.key_id = bytes(key_id)
        self.raw = bytes(raw)

    @property
    def key_id_hex(self):
        return _key_id_hex(self.key_id)

    @property
    def base64(self):
        """The base64 line of the .pub file (what ``minisign -P`` takes)."""
        return _b64encode(SIGALG + self.key_id + self.raw)

    def __eq__(self, other):
        if not isinstance(other, PublicKey):
            return NotImplemented
        return self.key_id == other.key_id and self.raw == other.raw

    def __hash__(self):
        return hash((self.key_id, self.raw))

    def __repr__(self):
        return "PublicKey(key_id=%s)" % self.key_id_hex


class Signature:
    """A parsed .minisig file. Nothing here is verified yet."""

    __slots__ = ("algorithm", "key_id", "signature", "trusted_comment", "global_signature", "untrusted_comment")

    def __init__(self, algorithm, key_id, signature, trusted_comment, global_signature, untrusted_comment=""):
        self.algorithm = algorithm
        self.key_id = key_id
        self.signature = signature
        self.trusted_comment = trusted_comment
        self.global_signature = global_signature
        self.untrusted_comment = untrusted_comment

    @property
    def key_id_hex(self):
        return _key_id_hex(self.key_id)

    @property
    def prehashed(self):
        return self.algorithm == SIGALG_HASHED.decode("ascii")

    def __repr__(self):
        return "Signature(algorithm=%r, key_id=%s)" % (self.algorithm, self.key_id_hex)


class VerifiedSignature:
    """Result of a successful :func:`verify`."""

    __slots__ = ("key_id", "trusted_comment", "prehashed", "algorithm", "untrusted_comment")

    def __init__(self, key_id, trusted_comment, prehashed, algorithm, untrusted_comment=""):
        self.key_id = key_id
        self.trusted_comment = trusted_comment
        self.prehashed = prehashed
        self.algorithm = algorithm
        self.untrusted_comment = untrusted_comment

    @property
    def key_id_hex(self):
        return _key_id_hex(self.key_id)

    def __repr__(self):
        return "VerifiedSignature(key_id=%s, prehashed=%r, trusted_comment=%r)" % (self.key_id_hex, self.prehashed, self.trusted_comment)


class SecretKey:
    """A decrypted minisign secret key. The seed never appears in repr()."""

    __slots__ = ("key_id", "_seed", "_public", "encrypted")

    def __init__(self, key_id, seed, public, encrypted=False):
        self.key_id = bytes(key_id)
        self._seed = bytes(seed)
        self._public = bytes(public)
        self.encrypted = encrypted

    @property
    def key_id_hex(self):
        return _key_id_hex(self.key_id)

    def public_key(self):
        return PublicKey(self.key_id, self._public)

    def __repr__(self):
        return "SecretKey(key_id=%s, encrypted=%r)" % (self.key_id_hex, self.encrypted)


# --------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------


def parse_public_key(text, file=None):
    """Parse a .pub file (with its comment line) or the bare base64 line."""
    if isinstance(text, PublicKey):
        return text
    what = "minisign public key"
    blob = _b64decode(_key_blob_line(text, what, file), PUBKEY_BLOB_BYTES, what, file)
    if blob[:2] != SIGALG:
        raise SignatureError("unsupported public key algorithm %r (minisign keys start with 'Ed')" % blob[:2].decode("latin-1"), file=file)
    return PublicKey(blob[2:2 + KEYNUMBYTES], blob[2 + KEYNUMBYTES:])


def _signature_lines(text, file):
    text = _as_text(text, "minisign signature", file)
    # minisign reads lines with fgets() and strips CR/LF; split the same way
    # (str.splitlines() would also split on form feeds and U+2028).
    lines = text.split("\n")
    while lines and lines[-1].strip() == "":
        lines.pop()
    lines = [line[:-1] if line.endswith("\r") else line for line in lines]
    if len(lines) != 4:
        raise SignatureError(
            "malformed minisign signature: expected 4 lines (untrusted comment, signature, trusted comment, "
            "comment signature), found %d" % len(lines), file=file)
    for number, line in enumerate(lines, 1):
        if "\r" in line or "\x00" in line:
            raise SignatureError("malformed minisign signature: stray control character on line %d" % number, file=file)
    return lines


def parse_signature(text, file=None):
    """Parse the 4-line .minisig text. Raises SignatureError when malformed."""
    lines = _signature_lines(text, file)
    if not lines[0].startswith(COMMENT_PREFIX):
        raise SignatureError("malformed minisign signature: line 1 must start with %r" % COMMENT_PREFIX, file=file)
    if not lines[2].startswith(TRUSTED_COMMENT_PREFIX):
        raise SignatureError("malformed minisign signature: line 3 must start with %r" % TRUSTED_COMMENT_PREFIX, file=file)
    blob = _b64decode(lines[1], SIG_BLOB_BYTES, "minisign signature (line 2)", file)
    algorithm = blob[:2]
    if algorithm not in (SIGALG, SIGALG_HASHED):
        raise SignatureError(
            "unsupported signature algorithm %r (minisign uses 'ED' for prehashed or 'Ed' for legacy signatures)" % algorithm.decode("latin-1"),
            file=file)
    global_signature = _b64decode(lines[3], SIGNATUREBYTES, "minisign comment signature (line 4)", file)
    trusted_comment = lines[2][len(TRUSTED_COMMENT_PREFIX):]
    if len(trusted_comment.encode("utf-8")) > MAX_TRUSTED_COMMENT_BYTES:
        raise SignatureError("malformed minisign signature: trusted comment longer than %d bytes" % MAX_TRUSTED_COMMENT_BYTES, file=file)
    return Signature(
        algorithm=algorithm.decode("ascii"),
        key_id=blob[2:2 + KEYNUMBYTES],
        signature=blob[2 + KEYNUMBYTES:],
        trusted_comment=trusted_comment,
        global_signature=global_signature,
        untrusted_comment=lines[0][len(COMMENT_PREFIX):],
    )


def _public_keys(public_keys):
    if isinstance(public_keys, (str, bytes, bytearray, PublicKey)):
        public_keys = [public_keys]
    keys = []
    public_keys = list(public_keys or [])
    for index, key in enumerate(public_keys, 1):
        try:
            keys.append(parse_public_key(key))
        except SignatureError as exc:
            raise SignatureError("trusted public key %d of %d: %s" % (index, len(public_keys), exc.reason)) from None
    return keys


def _ed25519_verify(raw_public, signature, data):
    try:
        Ed25519PublicKey.from_public_bytes(raw_public).verify(signature, data)
    except (InvalidSignature, ValueError):
        return False
    return True


# --------------------------------------------------------------------------
# Verification
# --------------------------------------------------------------------------


def verify(message, signature_text, public_keys, file=None, require_prehashed=False):
    """Verify ``signature_text`` (a .minisig) over ``message`` with any of ``public_keys``.

    ``public_keys`` is a list of PublicKey objects or key texts. Both the
    signature over the message and the signature over the trusted comment
    must be valid. Legacy (non-prehashed, 'Ed') signatures are accepted, as
    minisign does, unless ``require_prehashed`` is true (minisign -V -H).
    """
    _require_cryptography(file)
    if not isinstance(message, (bytes, bytearray, memoryview)):
        raise TypeError("message must be bytes, got %s" % type(message).__name__)
    sig = parse_signature(signature_text, file=file)
    if require_prehashed and not sig.prehashed:
        raise SignatureError("legacy (non-prehashed) signature refused: a prehashed ('ED') minisign signature is required", file=file)
    keys = _public_keys(public_keys)
    if not keys:
        raise SignatureError("no trusted public keys were given to verify the signature", file=file)
    candidates = [key for key in keys if key.key_id == sig.key_id]
    if not candidates:
        trusted = ", ".join(sorted(set(key.key_id_hex for key in keys)))
        raise SignatureError(
            "signature was made by key %s, which is not among the trusted keys (%s)" % (sig.key_id_hex, trusted), file=file)
    data = _blake2b_512(bytes(message)) if sig.prehashed else bytes(message)
    comment_data = sig.signature + sig.trusted_comment.encode("utf-8")
    for key in candidates:
        if not _ed25519_verify(key.raw, sig.signature, data):
            continue
        if not _ed25519_verify(key.raw, sig.global_signature, comment_data):
            raise SignatureError(
                "trusted comment signature is invalid (key %s): the trusted comment was altered or not signed by this key" % key.key_id_hex,
                file=file)
        return VerifiedSignature(key.key_id, sig.trusted_comment, sig.prehashed, sig.algorithm, sig.untrusted_comment)
    raise SignatureError("signature does not match the manifest contents (signed by key %s)" % sig.key_id_hex, file=file)


# --------------------------------------------------------------------------
# Secret keys
# --------------------------------------------------------------------------


def _scrypt_params(opslimit, memlimit):
    """libsodium's pickparams() for crypto_pwhash_scryptsalsa208sha256: (N, r, p)."""
    opslimit = max(opslimit, MIN_OPSLIMIT)
    r = 8
    if opslimit < memlimit // 32:
        p = 1
        max_n = opslimit // (r * 4)
        n_log2 = 1
        while n_log2 < 63 and (1 << n_log2) <= max_n // 2:
            n_log2 += 1
    else:
        max_n = memlimit // (r * 128)
        n_log2 = 1
        while n_log2 < 63 and (1 << n_log2) <= max_n // 2:
            n_log2 += 1
        max_rp = min((opslimit // 4) // (1 << n_log2), 0x3FFFFFFF)
        p = max_rp // r
    return 1 << n_log2, r, p


def _derive_stream(passphrase, salt, opslimit, memlimit, length=KEYNUM_SK_BYTES):
    """crypto_pwhash_scryptsalsa208sha256(length, passphrase, salt, opslimit, memlimit)."""
    n, r, p = _scrypt_params(opslimit, memlimit)
    if p < 1 or n * r * p > _MAX_SCRYPT_WORK:
        raise SignatureError("unsupported secret key KDF parameters (opslimit %d, memlimit %d)" % (opslimit, memlimit))
    # OpenSSL's accounting: B = 128 * r * p, V = 128 * r * (N + 2).
    needed = 128 * r * p + 128 * r * (n + 2) + 65536
    if needed > _MAX_SCRYPT_MEMORY:
        raise SignatureError("secret key KDF parameters need %d MiB of memory, more than supported" % (needed // 1048576))
    scrypt = getattr(hashlib, "scrypt", None)
    if scrypt is None:
        raise SignatureError("hashlib.scrypt is not available in this Python (needs OpenSSL 1.1+); cannot decrypt the secret key")
    try:
        return scrypt(passphrase, salt=salt, n=n, r=r, p=p, maxmem=needed, dklen=length)
    except (ValueError, MemoryError) as exc:
        raise SignatureError("key derivation (scrypt) failed: %s" % exc) from None


def _passphrase_bytes(passphrase):
    if isinstance(passphrase, str):
        return passphrase.encode("utf-8")
    if isinstance(passphrase, (bytes, bytearray)):
        return bytes(passphrase)
    raise SignatureError("passphrase must be a string, got %s" % type(passphrase).__name__)


def _raw_public_from_seed(seed):
    private = Ed25519PrivateKey.from_private_bytes(seed)
    return private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def load_secret_key(text, passphrase=None):
    """Load a minisign secret key file, unencrypted (-W) or scrypt-encrypted."""
    _require_cryptography()
    what = "minisign secret key"
    blob = _b64decode(_key_blob_line(text, what), SECKEY_BLOB_BYTES, what)
    sig_alg, kdf_alg, chk_alg = blob[0:2], blob[2:4], blob[4:6]
    salt = blob[6:38]
    opslimit, memlimit = struct.unpack("<QQ", blob[38:54])
    keynum_sk = blob[54:]
    if sig_alg != SIGALG:
        raise SignatureError("unsupported secret key signature algorithm %r (expected 'Ed')" % sig_alg.decode("latin-1"))
    if chk_alg != CHKALG:
        raise SignatureError("unsupported secret key checksum algorithm %r (expected 'B2')" % chk_alg.decode("latin-1"))
    if kdf_alg == KDFALG:
        if passphrase is None:
            raise SignatureError("the secret key is encrypted: a passphrase is required")
        keynum_sk = _xor(keynum_sk, _derive_stream(_passphrase_bytes(passphrase), salt, opslimit, memlimit))
        encrypted = True
    elif kdf_alg == KDFNONE:
        encrypted = False
    else:
        raise SignatureError("unsupported secret key derivation function %r (expected 'Sc' or none)" % kdf_alg.decode("latin-1"))
    key_id = keynum_sk[:KEYNUMBYTES]
    secret = keynum_sk[KEYNUMBYTES:KEYNUMBYTES + SECRETKEYBYTES]
    checksum = keynum_sk[KEYNUMBYTES + SECRETKEYBYTES:]
    # minisign -G -W leaves the checksum of unencrypted keys zeroed; check it when present.
    if encrypted or checksum != bytes(CHECKSUMBYTES):
        if not hmac.compare_digest(checksum, _checksum(sig_alg, key_id, secret)):
            if encrypted:
                raise SignatureError("wrong passphrase or corrupt secret key (checksum mismatch)")
            raise SignatureError("corrupt secret key (checksum mismatch)")
    seed, public = secret[:32], secret[32:]
    if not hmac.compare_digest(_raw_public_from_seed(seed), public):
        raise SignatureError("corrupt secret key: its public half does not match its private half")
    return SecretKey(key_id, seed, public, encrypted=encrypted)


# --------------------------------------------------------------------------
# Signing and key generation
# --------------------------------------------------------------------------


def sign(message, secret_key, trusted_comment, untrusted_comment=DEFAULT_UNTRUSTED_COMMENT, prehash=True):
    """Return the 4-line .minisig text (trailing newline included), as minisign -S writes it.

    ``trusted_comment`` None means minisign's default ("timestamp:<now>", plus
    a tab and "hashed" for prehashed signatures, without the file name).
    """
    _require_cryptography()
    if not isinstance(message, (bytes, bytearray, memoryview)):
        raise TypeError("message must be bytes, got %s" % type(message).__name__)
    if not isinstance(secret_key, SecretKey):
        secret_key = load_secret_key(secret_key)
    if trusted_comment is None:
        trusted_comment = "timestamp:%d" % int(time.time()) + ("\thashed" if prehash else "")
    trusted = _check_comment(trusted_comment, "trusted comment", MAX_TRUSTED_COMMENT_BYTES)
    _check_comment(untrusted_comment, "untrusted comment", MAX_UNTRUSTED_COMMENT_BYTES)
    private = Ed25519PrivateKey.from_private_bytes(secret_key._seed)  # pylint: disable=protected-access
    if prehash:
        algorithm, data = SIGALG_HASHED, _blake2b_512(bytes(message))
    else:
        algorithm, data = SIGALG, bytes(message)
    signature = private.sign(data)
    global_signature = private.sign(signature + trusted)
    return "%s%s\n%s\n%s%s\n%s\n" % (
        COMMENT_PREFIX, untrusted_comment,
        _b64encode(algorithm + secret_key.key_id + signature),
        TRUSTED_COMMENT_PREFIX, trusted_comment,
        _b64encode(global_signature),
    )


def public_key_text(pk, comment=None):
    """Text of a .pub file: comment line (minisign's by default) and base64 line."""
    pk = parse_public_key(pk)
    if comment is None:
        comment = "minisign public key %s" % pk.key_id_hex
    _check_comment(comment, "public key comment", MAX_UNTRUSTED_COMMENT_BYTES)
    return "%s%s\n%s\n" % (COMMENT_PREFIX, comment, pk.base64)


def generate_keypair(passphrase=None, opslimit=DEFAULT_OPSLIMIT, memlimit=DEFAULT_MEMLIMIT, comment=None):
    """Return (public_text, secret_text) in minisign's file formats.

    Without a passphrase the secret key is unencrypted (like minisign -G -W);
    otherwise it is encrypted with scrypt using ``opslimit``/``memlimit``
    (minisign's defaults; smaller values are allowed down to libsodium's
    minimums, e.g. for tests). Unlike minisign -W, the checksum of an
    unencrypted key is filled in; minisign ignores it for such keys.
    """
    _require_cryptography()
    private = Ed25519PrivateKey.generate()
    seed = private.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
    public = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    key_id = os.urandom(KEYNUMBYTES)
    secret = seed + public
    keynum_sk = key_id + secret + _checksum(SIGALG, key_id, secret)
    if passphrase is None:
        kdf_alg, salt, opslimit, memlimit = KDFNONE, bytes(SALTBYTES), 0, 0
        default_comment = "minisign unencrypted secret key"
    else:
        pw = _passphrase_bytes(passphrase)
        if not pw:
            raise SignatureError("passphrase must not be empty (use passphrase=None for an unencrypted key)")
        if b"\n" in pw or b"\r" in pw or b"\x00" in pw:
            raise SignatureError("passphrase must be one line without NUL bytes (minisign reads it as a line)")
        if opslimit < MIN_OPSLIMIT or memlimit < MIN_MEMLIMIT:
            raise SignatureError("scrypt limits too small: opslimit >= %d and memlimit >= %d are required" % (MIN_OPSLIMIT, MIN_MEMLIMIT))
        kdf_alg, salt = KDFALG, os.urandom(SALTBYTES)
        keynum_sk = _xor(keynum_sk, _derive_stream(pw, salt, opslimit, memlimit))
        default_comment = "minisign encrypted secret key"
    if comment is None:
        comment = default_comment
    _check_comment(comment, "secret key comment", MAX_UNTRUSTED_COMMENT_BYTES)
    blob = SIGALG + kdf_alg + CHKALG + salt + struct.pack("<QQ", opslimit, memlimit) + keynum_sk
    secret_text = "%s%s\n%s\n" % (COMMENT_PREFIX, comment, _b64encode(blob))
    return public_key_text(PublicKey(key_id, public)), secret_text
