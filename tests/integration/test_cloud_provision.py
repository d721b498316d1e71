# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""playbooks/provision.yml and inventories/cloud against moto, a local AWS emulator.

A real ``moto_server`` listens on 127.0.0.1 (a free port in 18095-18099); the real
``ansible-playbook`` and ``ansible-inventory`` talk to it through the endpoint
override. No test talks to a real cloud. moto's instances are records, not machines:
waiting for SSH and the bootstrap hand-off are switched off here
(``groundwork_cloud_wait_for_ssh=false``, ``groundwork_cloud_bootstrap=false``); the
bootstrap itself is covered by molecule/cloud_bootstrap over real SSH.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import pytest

boto3 = pytest.importorskip("boto3")

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
COLLECTIONS = ROOT / "build" / "collections"
SITE_PACKAGES = sysconfig.get_paths()["purelib"]
PORTS = range(18095, 18100)
REGION = "eu-central-1"
ESTATE = "groundwork"
INSTANCES = {
    "gw-compose-1": {"compose_hosts", "bundle_hosts"},
    "gw-systemd-1": {"systemd_hosts", "bundle_hosts"},
    "gw-k3s-server-1": {"k3s_server", "bundle_hosts"},
    "gw-k3s-agent-1": {"k3s_agent", "bundle_hosts"},
}
TIMEOUT = 180


def _free_port():
    for port in PORTS:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    pytest.fail("no free port in %s-%s for moto_server" % (PORTS[0], PORTS[-1]))
    return None


@pytest.fixture(name="moto", scope="module")
def fixture_moto(tmp_path_factory):
    """A moto_server subprocess on 127.0.0.1; yields its endpoint URL."""
    port = _free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(  # pylint: disable=consider-using-with
            [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
    url = "http://127.0.0.1:%d" % port
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("moto_server did not start: %s" % log.read_text(errors="replace"))
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(name="env", scope="module")
def fixture_env(moto, tmp_path_factory):
    """Environment of every ansible run: only moto, never a real account or endpoint."""
    home = tmp_path_factory.mktemp("home")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({
        "HOME": str(home),
        "PATH": "%s:%s" % (BIN, env.get("PATH", "")),
        "ANSIBLE_COLLECTIONS_PATH": "%s:%s" % (COLLECTIONS, SITE_PACKAGES),
        "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json",
        "ANSIBLE_DEPRECATION_WARNINGS": "false",
        "ANSIBLE_LOCALHOST_WARNING": "false",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_CONFIG_FILE": str(home / "aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "aws-credentials"),
        # the aws_ec2 inventory plugin's endpoint override
        "AWS_URL": moto,
    })
    return env


@pytest.fixture(name="admin_key", scope="module")
def fixture_admin_key(tmp_path_factory):
    key = tmp_path_factory.mktemp("keys") / "admin"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True, timeout=30)
    return key.with_suffix(".pub")


@pytest.fixture(name="ec2", scope="module")
def fixture_ec2(moto):
    return boto3.client("ec2", region_name=REGION, endpoint_url=moto,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


@pytest.fixture(name="provision", scope="module")
def fixture_provision(env, moto, admin_key):
    """Run playbooks/provision.yml; returns the json callback's stats of localhost."""

    def run(*extra):
        argv = [
            str(BIN / "ansible-playbook"), "-i", "inventories/cloud", "playbooks/provision.yml",
            "-e", "ansible_python_interpreter=%s" % sys.executable,
            "-e", "groundwork_cloud_endpoint_url=%s" % moto,
            "-e", "groundwork_cloud_image_id=ami-12c6146b",
            "-e", "groundwork_cloud_admin_public_key_file=%s" % admin_key,
            # moto's instances are not machines: nothing answers SSH on them
            "-e", "groundwork_cloud_wait_for_ssh=false",
            "-e", "groundwork_cloud_bootstrap=false",
        ] + list(extra)
        proc = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False)
        assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
        return json.loads(proc.stdout[proc.stdout.index("{"):])["stats"]["localhost"]

    return run


def _instances(ec2, states=("pending", "running")):
    reservations = ec2.describe_instances(Filters=[
        {"Name": "tag:groundwork-estate", "Values": [ESTATE]},
        {"Name": "instance-state-name", "Values": list(states)},
    ])["Reservations"]
    return [i for r in reservations for i in r["Instances"]]


def _tags(instance):
    return {t["Key"]: t["Value"] for t in instance.get("Tags", [])}


def test_create_makes_key_group_and_tagged_instances(provision, ec2):
    stats = provision()
    assert stats["failures"] == 0 and stats["changed"] > 0
    found = {_tags(i)["Name"]: i for i in _instances(ec2)}
    assert set(found) == set(INSTANCES)
    for name, groups in INSTANCES.items():
        tags = _tags(found[name])
        assert set(tags["groundwork-groups"].split(",")) == groups
        assert found[name]["KeyName"] == "groundwork-admin"
        assert found[name]["SecurityGroups"][0]["GroupName"] == "groundwork-hosts"
    assert found["gw-k3s-server-1"]["InstanceType"] == "t3.medium"
    assert ec2.describe_key_pairs(KeyNames=["groundwork-admin"])["KeyPairs"]
    group = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": ["groundwork-hosts"]}])
    ports = {(p.get("IpProtocol"), p.get("FromPort")) for p in group["SecurityGroups"][0]["IpPermissions"]}
    assert {("tcp", 22), ("tcp", 80), ("tcp", 443), ("-1", None)} <= ports


def test_user_data_brings_the_admin_user_up(provision, ec2, admin_key):
    del provision  # the estate exists (previous test)
    instance = _instances(ec2)[0]
    attribute = ec2.describe_instance_attribute(InstanceId=instance["InstanceId"], Attribute="userData")
    user_data = base64.b64decode(attribute["UserData"]["Value"]).decode()
    assert user_data.startswith("#cloud-config\n")
    assert admin_key.read_text().strip() in user_data
    assert "ssh_pwauth: false" in user_data and "disable_root: true" in user_data


def test_second_run_changes_nothing(provision, ec2):
    stats = provision()
    assert stats["failures"] == 0
    assert stats["changed"] == 0
    assert len(_instances(ec2)) == len(INSTANCES)


def test_inventory_finds_the_instances_in_the_lab_groups(env):
    proc = subprocess.run([str(BIN / "ansible-inventory"), "-i", "inventories/cloud/aws_ec2.yml", "--list"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=TIMEOUT, check=True)
    inventory = json.loads(proc.stdout)
    for group in ("compose_hosts", "systemd_hosts", "k3s_server", "k3s_agent", "bundle_hosts"):
        expected = {name for name, groups in INSTANCES.items() if group in groups}
        assert set(inventory.get(group, {}).get("hosts", [])) == expected, group
    assert set(inventory["k3s_cluster"]["hosts"]) == {"gw-k3s-server-1", "gw-k3s-agent-1"}
    assert set(inventory["cloud_hosts"]["hosts"]) == set(INSTANCES)
    assert inventory["prod"]["hosts"] == ["gw-compose-1"]
    hostvars = inventory["_meta"]["hostvars"]
    assert all(hostvars[name]["ansible_host"] for name in INSTANCES)


def test_destroy_removes_everything_and_is_idempotent(provision, ec2):
    stats = provision("-e", "state=absent")
    assert stats["failures"] == 0 and stats["changed"] > 0
    assert not _instances(ec2, states=("pending", "running", "stopping", "stopped"))
    assert not ec2.describe_key_pairs(Filters=[{"Name": "key-name", "Values": ["groundwork-admin"]}])["KeyPairs"]
    groups = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": ["groundwork-hosts"]}])
    assert not groups["SecurityGroups"]
    again = provision("-e", "state=absent")
    assert again["changed"] == 0
