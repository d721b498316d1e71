"""What a user checks on a bootstrapped VM: logins, firewall, forwarding, baseline files.

Logins and port probes go from the controller to the instance's address over the
network (real ssh, real TCP). File and ruleset checks read the instance through
testinfra's docker backend.
"""

from __future__ import annotations

import os
import socket
import subprocess

import pytest

WORK = os.path.join(os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", ""), "cloud")
ADMIN = "ops"
INITIAL = "debian"
ALLOWED_PORT = 8080
BLOCKED_PORT = 9090
# A listener on the controller for the forwarding test (the ports of this project's cloud tests).
FORWARD_PORT = 18097
SSH_OPTS = [
    "-o", "BatchMode=yes",
    # known_hosts: the host keys molecule's connect.yml read out of band.
    "-o", "StrictHostKeyChecking=yes",
    "-o", "UserKnownHostsFile=" + os.path.join(WORK, "known_hosts"),
    "-o", "ConnectTimeout=10",
]


def _address(name):
    out = subprocess.run(
        ["docker", "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", name],
        check=True, capture_output=True, text=True,
    ).stdout.split()
    return out[0]


@pytest.fixture(name="address")
def fixture_address(host):
    return _address(host.backend.get_hostname())


def _ssh(address, user, *args, key=None, command="true"):
    argv = ["ssh"] + SSH_OPTS + list(args)
    if key:
        argv += ["-i", os.path.join(WORK, "keys", key), "-o", "IdentitiesOnly=yes"]
    argv += ["%s@%s" % (user, address), command]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)


def _connects(address, port, timeout=3.0):
    try:
        with socket.create_connection((address, port), timeout=timeout):
            return True
    except OSError:
        return False


def test_admin_user_logs_in_with_its_key_and_has_sudo(address):
    result = _ssh(address, ADMIN, key="admin", command="sudo -n id -u")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "0"


def test_root_login_is_refused_even_with_a_valid_key(address):
    # prepare.yml logged in as root with this key before the role ran
    result = _ssh(address, "root", key="initial")
    assert result.returncode == 255
    assert "Permission denied" in result.stderr


def test_password_login_is_not_offered(address):
    # prepare.yml saw "password" among the offered methods before the role ran
    result = _ssh(address, INITIAL, "-o", "PubkeyAuthentication=no",
                  "-o", "PreferredAuthentications=password,keyboard-interactive")
    assert result.returncode == 255
    assert "Permission denied (publickey)." in result.stderr, result.stderr


def test_effective_sshd_configuration(host):
    effective = host.check_output("sshd -T -C user=%s,host=client,addr=192.0.2.1" % ADMIN)
    settings = dict(line.split(" ", 1) for line in effective.splitlines() if " " in line)
    assert settings["permitrootlogin"] == "no"
    assert settings["passwordauthentication"] == "no"
    assert settings["kbdinteractiveauthentication"] == "no"
    assert settings["authenticationmethods"] == "publickey"
    dropin = host.file("/etc/ssh/sshd_config.d/05-groundwork.conf")
    assert dropin.user == "root" and dropin.mode == 0o644


def test_initial_user_keeps_its_key_login(address):
    result = _ssh(address, INITIAL, key="initial")
    assert result.returncode == 0, result.stderr


def test_firewall_rules_are_loaded(host):
    ruleset = host.check_output("nft list table inet groundwork")
    assert "hook input priority filter; policy drop;" in ruleset
    assert "hook forward priority filter; policy drop;" in ruleset
    assert "tcp dport %d accept" % ALLOWED_PORT in ruleset
    assert host.service("nftables").is_enabled


def test_allowed_port_answers(address):
    assert _connects(address, ALLOWED_PORT)


def test_port_not_allowed_is_dropped_although_it_listens(host, address):
    assert host.socket("tcp://0.0.0.0:%d" % BLOCKED_PORT).is_listening
    probe = "python3 -c 'import socket; socket.create_connection((\"127.0.0.1\", %d), 3)'" % BLOCKED_PORT
    assert host.run(probe).rc == 0
    assert not _connects(address, BLOCKED_PORT)


def test_forwarding_sysctls(host):
    assert host.file("/proc/sys/net/ipv4/ip_forward").content_string.strip() == "1"
    conf = host.file("/etc/sysctl.d/90-groundwork.conf").content_string
    assert "net.ipv4.ip_forward = 1" in conf.splitlines()
    assert "net.bridge.bridge-nf-call-iptables = 1" in conf.splitlines()
    # the file parses: sysctl reads every key back (it cannot write them: /proc/sys is read-only here)
    keys = [line.split(" = ")[0] for line in conf.splitlines() if " = " in line]
    assert host.run("sysctl %s" % " ".join(keys)).rc == 0
    assert "br_netfilter" in host.file("/etc/modules-load.d/groundwork.conf").content_string


NETNS_SETUP = """
set -e
ip netns add {ns}
ip link add {iface} type veth peer name eth0 netns {ns}
ip addr add {net}.1/30 dev {iface}
ip link set {iface} up
ip netns exec {ns} ip addr add {net}.2/30 dev eth0
ip netns exec {ns} ip link set eth0 up
ip netns exec {ns} ip link set lo up
ip netns exec {ns} ip route add default via {net}.1
"""
NETNS_CONNECT = ("ip netns exec {ns} python3 -c "
                 "'import socket; socket.create_connection((\"{target}\", {port}), 3)'")


def test_docker_style_forwarding_passes_and_other_forwarding_is_dropped(host):
    # A network namespace behind a veth* interface stands in for a Docker container:
    # its connection to a listener on the controller (the instance's gateway) is
    # forwarded by the instance and masqueraded, as Docker does. The same from behind
    # an interface of no container network is dropped by the forward chain.
    name = host.backend.get_hostname()
    gateway = subprocess.run(
        ["docker", "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.Gateway}} {{end}}", name],
        check=True, capture_output=True, text=True,
    ).stdout.split()[0]
    cleanup = "nft delete table ip cloudtest; ip netns del ctr; ip netns del other; true"
    host.run(cleanup)
    with socket.socket() as listener:
        listener.bind((gateway, FORWARD_PORT))
        listener.listen(4)
        try:
            host.check_output(NETNS_SETUP.format(ns="ctr", iface="veth-ctr", net="172.30.77"))
            host.check_output(NETNS_SETUP.format(ns="other", iface="lab0", net="172.30.78"))
            host.check_output("nft add table ip cloudtest && nft add chain ip cloudtest post "
                              "'{ type nat hook postrouting priority srcnat; }' && "
                              "nft add rule ip cloudtest post ip saddr 172.30.76.0/22 masquerade")
            assert host.run(NETNS_CONNECT.format(ns="ctr", target=gateway, port=FORWARD_PORT)).rc == 0
            assert host.run(NETNS_CONNECT.format(ns="other", target=gateway, port=FORWARD_PORT)).rc != 0
        finally:
            host.run(cleanup)


def test_security_updates_only(host):
    dump = host.check_output("apt-config dump Unattended-Upgrade::Origins-Pattern")
    patterns = [line for line in dump.splitlines() if line.startswith("Unattended-Upgrade::Origins-Pattern:: ")]
    assert patterns
    assert all("Debian-Security" in line for line in patterns), patterns
    periodic = host.check_output("apt-config dump APT::Periodic::Unattended-Upgrade")
    assert '"1"' in periodic
    assert host.service("apt-daily-upgrade.timer").is_enabled


def test_time_sync_journald_and_directories(host):
    assert host.service("systemd-timesyncd").is_enabled
    assert "SystemMaxUse=500M" in host.file("/etc/systemd/journald.conf.d/50-groundwork.conf").content_string
    bundles = host.file("/opt/groundwork/bundles")
    assert bundles.is_directory and bundles.user == "root" and bundles.mode == 0o755


def test_hostname(host):
    name = host.backend.get_hostname()
    assert host.check_output("hostname") == name + "-vm"
    assert host.file("/etc/hostname").content_string.strip() == name + "-vm"


def test_no_swap_file_in_a_container(host):
    # The role skips swap where swapon is impossible (containers) instead of failing.
    assert not host.file("/swapfile").exists
