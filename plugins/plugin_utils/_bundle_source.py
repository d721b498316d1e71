# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to groundwork.infra: read, authenticate and parse a release manifest on the controller.

Order matters: the manifest is size-capped while it is read, its signature is
checked over the raw bytes, and only then is the YAML parsed.
"""

from __future__ import annotations

import hashlib
import os
import pathlib
from urllib.parse import urlparse

from ansible_collections.groundwork.infra.plugins.module_utils._bundle_arch import debian_architecture
from ansible_collections.groundwork.infra.plugins.module_utils._bundle_download import MIN_DOWNLOAD_RATE, fetch_bytes
from ansible_collections.groundwork.infra.plugins.module_utils._bundle_errors import DownloadError, SignatureError
from ansible_collections.groundwork.infra.plugins.module_utils._bundle_manifest import load_manifest
from ansible_collections.groundwork.infra.plugins.module_utils._minisign import parse_public_key, verify

MAX_SIGNATURE_SIZE = 4096


def location_url(location):
    """A URL for a manifest location (plain controller paths become file:// URLs)."""
    scheme = urlparse(location).scheme
    if scheme in ("http", "https", "file"):
        return location
    return pathlib.Path(os.path.abspath(os.path.expanduser(location))).as_uri()


def read_trusted_keys(items):
    """Public keys from key texts or controller paths of .pub files."""
    keys = []
    for item in items or []:
        text = item
        stripped = item.strip()
        looks_like_key = "\n" in stripped or (stripped.startswith("RW") and len(stripped) == 56)
        if not looks_like_key:
            path = os.path.expanduser(stripped)
            if not os.path.isfile(path):
                raise SignatureError("trusted key %r is neither a minisign public key nor a readable .pub file" % item)
            with open(path, "r") as handle:
                text = handle.read()
        keys.append(parse_public_key(text))
    return keys


def download_rate(args):
    """The min_download_rate option (bytes per second, 0 = no deadline), checked."""
    rate = args.get("min_download_rate", MIN_DOWNLOAD_RATE)
    rate = MIN_DOWNLOAD_RATE if rate is None else rate
    if isinstance(rate, bool) or not isinstance(rate, int) or rate < 0:
        raise DownloadError("min_download_rate must be a whole number of bytes per second >= 0 (0 turns the deadline off), got %r" % (rate,))
    return rate


def load_release(args):
    """Fetch, authenticate and parse the manifest named in ``args``; return (manifest, audit)."""
    url = location_url(args["manifest"])
    common = dict(timeout=args["timeout"], retries=args["retries"], validate_certs=args["validate_certs"],
                  min_rate=download_rate(args))
    data = fetch_bytes(url, args["max_manifest_size"], file=url, **common)
    audit = {
        "manifest": url,
        "manifest_sha256": hashlib.sha256(data).hexdigest(),
        "manifest_bytes": len(data),
        "signed": False,
        "key_id": None,
        "trusted_comment": None,
    }
    keys = read_trusted_keys(args.get("trusted_keys"))
    if keys:
        sig_url = location_url(args["signature"]) if args.get("signature") else url + ".minisig"
        try:
            sig = fetch_bytes(sig_url, MAX_SIGNATURE_SIZE, file=sig_url, **common)
        except DownloadError as exc:
            raise SignatureError(
                "trusted_keys are configured but the manifest signature could not be read (%s); "
                "an unsigned manifest is accepted only when no key is configured" % exc.reason, file=sig_url)
        try:
            sig_text = sig.decode("utf-8")
        except UnicodeDecodeError:
            raise SignatureError("signature is not minisign text", file=sig_url)
        verified = verify(data, sig_text, keys, file=sig_url)
        audit.update(signed=True, key_id=verified.key_id_hex, trusted_comment=verified.trusted_comment, signature=sig_url)
    manifest = load_manifest(data, source=url, base_url=url, max_size=args["max_manifest_size"])
    manifest.check_expiry(allow_expired=args["allow_expired"])
    audit["release"] = manifest.release
    return manifest, audit


def host_capabilities(task_vars, given):
    """Capabilities from gathered facts (python, kernel, systemd), overridden by ``given``."""
    facts = (task_vars or {}).get("ansible_facts") or {}
    caps = {}
    python = facts.get("python_version") or (facts.get("python") or {}).get("version", {})
    if isinstance(python, dict) and python.get("major") is not None:
        python = "%s.%s.%s" % (python.get("major"), python.get("minor"), python.get("micro"))
    if python:
        caps["python"] = str(python)
    if facts.get("kernel"):
        caps["kernel"] = str(facts["kernel"])
    systemd = facts.get("systemd") or {}
    if isinstance(systemd, dict) and systemd.get("version"):
        caps["systemd"] = str(systemd["version"])
    for key, value in (given or {}).items():
        caps[key] = None if value is None else str(value)
    return caps


def host_architecture(task_vars, given=None, reported=None):
    """The host's architecture in Debian's names and how it was found: (name or None, description).

    ``given`` (the ``architecture`` option) wins; then the gathered facts (``ansible_architecture``,
    with ``userspace_bits`` as dpkg counts them); then what the host's bundle_info module reported
    (``reported``: its ``machine`` and ``userspace_bits``). The description names the source, so
    that a refusal says why the collection thinks the host is what it is.
    """
    if given:
        return given, "%s (the architecture option)" % given
    facts = (task_vars or {}).get("ansible_facts") or {}
    machine = facts.get("architecture")
    if machine:
        name = debian_architecture(machine, facts.get("userspace_bits"))
        return name, "%s (ansible_architecture %s)" % (name, machine)
    reported = reported or {}
    if reported.get("machine"):
        name = debian_architecture(reported["machine"], reported.get("userspace_bits"))
        return name, "%s (uname -m %s on the host)" % (name, reported["machine"])
    return None, "of an unknown architecture (no facts gathered and none reported)"
