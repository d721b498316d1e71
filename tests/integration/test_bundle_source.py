# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One bundle source: a TLS setting set once in the inventory reaches every role's fetch.

A real HTTPS server on 127.0.0.1 with a self-signed certificate (made here with the
``cryptography`` package, an ansible-core dependency) serves a release. The roles
systemd_service, k3s, compose_app and docker_host then run for real (ansible-playbook,
local connection, ``--check``) against an inventory that sets the bundle source once
in its ``all`` group:

* without ``bundle_validate_certs``, every role's first read of the release fails
  naming the certificate, and the server never sees a request;
* with ``bundle_validate_certs: false`` set once, every role gets past TLS: the
  server serves the manifest to each, and each role then stops at the refusal the
  release was built for (its only component needs Docker Engine 999 and is of kind
  ``files``), before anything on the host changes.

If one role stopped passing ``bundle_validate_certs`` (or read another variable),
its run with the setting would fail on the certificate and this test would fail.
The deprecated ``compose_app_bundle_*`` names are checked the same way: they still
reach the fetch, with a deprecation warning that names the ``bundle_*`` variable.
"""

from __future__ import annotations

import collections
import datetime
import functools
import hashlib
import http.server
import ipaddress
import json
import ssl
import subprocess
import threading
from pathlib import Path

import pytest
import yaml

ROLES = ("systemd_service", "k3s", "compose_app", "docker_host")
COMPONENT = "tls-probe"
# What each role says once it has read the release over TLS (the refusal the release is built for).
AFTER_TLS = {
    "systemd_service": "docker_engine",
    "k3s": "not of kind k3s",
    "compose_app": "no component of kind compose named %s" % COMPONENT,
    "docker_host": "docker_engine",
}


class _CountingHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        pass

    def do_GET(self):
        with self.server.lock:
            self.server.counts[self.path] += 1
        super().do_GET()


class TLSOrigin:
    """A real HTTPS server on 127.0.0.1 with a self-signed certificate, counting GETs per path."""

    def __init__(self, root, certdir):
        cert, key = self._self_signed(certdir)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        handler = functools.partial(_CountingHandler, directory=str(root))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.httpd.counts = collections.Counter()
        self.httpd.lock = threading.Lock()
        self.url = "https://127.0.0.1:%d" % self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, name="tls-origin", daemon=True).start()

    @staticmethod
    def _self_signed(certdir):
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "groundwork test origin")])
        now = datetime.datetime.now(datetime.timezone.utc)
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
                .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
                .sign(key, hashes.SHA256()))
        cert_path, key_path = Path(certdir) / "origin.crt", Path(certdir) / "origin.key"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
        key_path.chmod(0o600)
        return str(cert_path), str(key_path)

    def requests(self, path):
        with self.httpd.lock:
            return self.httpd.counts[path]

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def write_release(root):
    """An unsigned release whose one component (kind files) needs Docker Engine 999: every role refuses it."""
    payload = b"probe\n"
    (root / "artifacts").mkdir(parents=True)
    (root / "artifacts" / "probe.txt").write_bytes(payload)
    now = datetime.datetime.now(datetime.timezone.utc)
    manifest = {
        "format": 1,
        "release": "2026.12.0",
        "issued": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "expires": (now + datetime.timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "components": [{
            "name": COMPONENT, "version": "1.0.0", "kind": "files",
            "artifacts": [{"name": "probe.txt", "url": "artifacts/probe.txt",
                           "sha256": hashlib.sha256(payload).hexdigest(), "size": len(payload)}],
            "requires": {"host": {"docker_engine": ">=999"}},
        }],
    }
    (root / "manifest.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False), encoding="utf-8")


@pytest.fixture(scope="module")
def origin(tmp_path_factory):
    root = tmp_path_factory.mktemp("tls-www")
    write_release(root)
    server = TLSOrigin(root, tmp_path_factory.mktemp("tls-cert"))
    yield server
    server.close()


# Each role in a block of its own: the refusal is rescued and recorded, so that one
# run shows every role's first failure.
def _role_block(role):
    return {
        "name": "run %s" % role,
        "block": [{"name": "include %s" % role, "ansible.builtin.include_role": {"name": "groundwork.infra.%s" % role}}],
        "rescue": [{"name": "record the failure of %s" % role, "ansible.builtin.set_fact": {
            "groundwork_test_failures": "{{ groundwork_test_failures | combine({'%s': {'task': ansible_failed_task.name, "
                                        "'msg': ansible_failed_result.msg | default('') | string}}) }}" % role}}],
    }


def run_roles(runner, tmp_path, source, roles=ROLES):
    """Run the roles with the inventory's `all` group setting the bundle ``source``; {role: failure} (None: no failure)."""
    inventory = {"all": {
        "vars": dict(source),
        "hosts": {"localhost": None},
        "children": {"k3s_server": {"hosts": {"localhost": None}}, "k3s_agent": {"hosts": {}}},
    }}
    inv = tmp_path / "source-inventory.yml"
    inv.write_text(yaml.safe_dump(inventory), encoding="utf-8")
    play = {
        "hosts": "localhost",
        "gather_facts": True,
        "vars": {
            "groundwork_test_failures": {},
            # What each role adds of its own: which components.
            "systemd_service_services": [{"name": COMPONENT, "exec": "probe.txt"}],
            "k3s_component": COMPONENT,
            "compose_app_projects": [{"name": COMPONENT}],
            "docker_host_bundle_components": [COMPONENT],
            "docker_host_version": "20.10.24",
            "docker_host_compose_version": "2.26.1",
        },
        "tasks": [_role_block(role) for role in roles] + [
            {"name": "failures", "ansible.builtin.debug": {"var": "groundwork_test_failures"}}],
    }
    path = runner.write(plays=[play], name="bundle-source")
    proc = subprocess.run(runner.command(path, check=True, extra=["-i", str(inv)]), env=runner.env, cwd=str(runner.workdir),
                          capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL, check=False)
    data = json.loads(proc.stdout)
    results = [task["hosts"]["localhost"] for p in data["plays"] for task in p["tasks"] if task["task"]["name"] == "failures"]
    assert results, "the play did not finish: rc=%s\n%s\n%s" % (proc.returncode, proc.stdout[-6000:], proc.stderr[-3000:])
    failures = results[0]["groundwork_test_failures"]
    return {role: failures.get(role) for role in roles}, proc


def deprecations(proc):
    """The deprecation warnings of every task result (the json callback keeps them in the results)."""
    data = json.loads(proc.stdout)
    return [d for p in data["plays"] for task in p["tasks"] for result in task["hosts"].values()
            for d in result.get("deprecations") or []]


def base_source(origin, tmp_path):
    return {
        "bundle_manifest": origin.url + "/manifest.yaml",
        "bundle_cache_dir": str(tmp_path / "cache"),
        "bundle_dest": str(tmp_path / "dest"),
        "bundle_retries": 0,
        "bundle_timeout": 10,
        "ansible_python_interpreter": "{{ ansible_playbook_python }}",
    }


def test_certificate_checked_by_every_role_when_not_set(origin, playbook_runner, tmp_path):
    before = origin.requests("/manifest.yaml")
    failures, proc = run_roles(playbook_runner(tmp_path / "ansible"), tmp_path, base_source(origin, tmp_path))
    for role in ROLES:
        failure = failures[role]
        assert failure, "%s did not fail against a self-signed certificate\n%s" % (role, proc.stdout[-4000:])
        assert "certificate" in failure["msg"].lower(), "%s: %s" % (role, failure)
    assert origin.requests("/manifest.yaml") == before  # no TLS handshake succeeded


def test_validate_certs_set_once_reaches_every_role(origin, playbook_runner, tmp_path):
    before = origin.requests("/manifest.yaml")
    source = dict(base_source(origin, tmp_path), bundle_validate_certs=False)
    failures, proc = run_roles(playbook_runner(tmp_path / "ansible"), tmp_path, source)
    for role in ROLES:
        failure = failures[role]
        assert failure, "%s accepted a release it must refuse\n%s" % (role, proc.stdout[-4000:])
        assert "certificate" not in failure["msg"].lower(), "%s did not get bundle_validate_certs: %s" % (role, failure)
        assert AFTER_TLS[role] in failure["msg"], "%s: %s" % (role, failure)
    # Each role read the manifest over TLS (docker_host's check and compose_app's read included).
    assert origin.requests("/manifest.yaml") - before >= len(ROLES)
    assert not (tmp_path / "dest").exists()
    assert deprecations(proc) == []


def test_deprecated_compose_app_names_still_reach_the_fetch_with_a_warning(origin, playbook_runner, tmp_path):
    source = base_source(origin, tmp_path)
    source["compose_app_bundle_manifest"] = source.pop("bundle_manifest")
    source["docker_host_bundle_manifest"] = source["compose_app_bundle_manifest"]
    source["bundle_validate_certs"] = False
    before = origin.requests("/manifest.yaml")
    failures, proc = run_roles(playbook_runner(tmp_path / "ansible"), tmp_path, source, roles=("compose_app", "docker_host"))
    assert AFTER_TLS["compose_app"] in failures["compose_app"]["msg"], failures
    assert AFTER_TLS["docker_host"] in failures["docker_host"]["msg"], failures
    assert origin.requests("/manifest.yaml") - before >= 2
    found = deprecations(proc)
    for old in ("compose_app_bundle_manifest", "docker_host_bundle_manifest"):
        assert any(d["msg"].startswith("the variable %s is deprecated: set bundle_manifest instead" % old)
                   and d.get("collection_name") == "groundwork.infra" and d.get("version") == "0.3.0" for d in found), found


# The playbooks read the release through the bundle role's entry points (`check`, `cache`), so the
# defaults of the bundle source are written once, in the role's defaults. Each playbook run here
# against the self-signed origin with bundle_validate_certs: false set once in the inventory: a
# playbook that did not pass it on (or wrote its own default) would fail on the certificate.
PLAYBOOKS = {
    # playbook, extra arguments, whether it must succeed, what it says once past TLS
    "validate.yml": ([], False, "docker_engine"),
    "upgrade.yml": (["--tags", "plan", "--check"], True, "tls-probe none -> 1.0.0"),
    "bundles.yml": ([], True, "release 2026.12.0: 1 component(s)"),
    "deploy.yml": (["--tags", "bundles", "--check"], False, "docker_engine"),
}


@pytest.mark.parametrize("playbook", sorted(PLAYBOOKS))
def test_validate_certs_set_once_reaches_every_playbook(origin, playbook_runner, tmp_path, playbook):
    extra, succeeds, after_tls = PLAYBOOKS[playbook]
    runner = playbook_runner(tmp_path / "ansible")
    inventory = {"all": {"vars": dict(base_source(origin, tmp_path), bundle_validate_certs=False),
                         "children": {"bundle_hosts": {"hosts": {"localhost": None}}}}}
    inv = tmp_path / "playbook-inventory.yml"
    inv.write_text(yaml.safe_dump(inventory), encoding="utf-8")
    before = origin.requests("/manifest.yaml")
    path = Path(__file__).resolve().parents[2] / "playbooks" / playbook
    proc = subprocess.run(runner.command(path, extra=["-i", str(inv)] + extra), env=runner.env, cwd=str(runner.workdir),
                          capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL, check=False)
    output = proc.stdout + proc.stderr
    assert "certificate verify failed" not in output.lower(), "%s did not get bundle_validate_certs:\n%s" % (playbook, output[-4000:])
    assert (proc.returncode == 0) == succeeds, "%s: rc=%s\n%s" % (playbook, proc.returncode, output[-4000:])
    assert after_tls in output, "%s:\n%s" % (playbook, output[-4000:])
    assert origin.requests("/manifest.yaml") > before
    if playbook == "bundles.yml":
        assert origin.requests("/artifacts/probe.txt") >= 1
    assert not (tmp_path / "dest").exists()
