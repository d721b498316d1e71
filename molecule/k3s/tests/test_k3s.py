"""What a user checks on the converged cluster (release 2026.11.0).

Unless GROUNDWORK_K3S_BUNDLE_DIR named real k3s release files, the `k3s`
binary on these hosts is the k3s STAND-IN from tests/k3s_standin/: these
tests check what the role did (files, modes, units, token flow, kubeconfig)
and what the API reports through the real kubernetes client, not Kubernetes.
The nodes are reached over SSH as ops, every command under sudo (molecule.yml).
"""

import os
import stat
import time

import pytest

DEST = "/opt/groundwork/bundles"
VERSION = "1.31.4+k3s1"
WORK = os.path.join(os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", ""), "k3s-test")
KUBECONFIG = os.path.join(WORK, "kubeconfig.yaml")
REAL = bool(os.environ.get("GROUNDWORK_K3S_BUNDLE_DIR"))
SERVERS = ["k3s-server-1", "k3s-server-2"]
NODES = ["k3s-agent-1"] + SERVERS
# The cluster's amd64 nodes. The emulated arm64 node joins in the side effect
# only, which checks what it got (side_effect.yml).
testinfra_hosts = ["ansible://k3s_server", "ansible://k3s_agent"]


def name(host):
    return host.backend.get_hostname()


def is_server(host):
    return name(host) in SERVERS


def unit(host):
    return "k3s.service" if is_server(host) else "k3s-agent.service"


def show(host, *properties):
    out = host.check_output("systemctl show --property=%s %s", ",".join(properties), unit(host))
    return dict(line.split("=", 1) for line in out.splitlines())


def test_node_is_reached_over_ssh_as_ops_and_becomes_root_with_sudo(host):
    # The host vars of molecule.yml: testinfra logs in as ops and runs every
    # command of these tests under sudo, as Ansible's become does.
    assert host.check_output("id -un") == "root"
    assert host.check_output("printenv SUDO_USER") == "ops"


def test_unit_is_written_by_the_role_and_runs_with_notify_readiness(host):
    props = show(host, "Type", "ActiveState", "UnitFileState", "FragmentPath", "ExecStart", "KillMode", "Delegate")
    assert props["Type"] == "notify"
    assert props["ActiveState"] == "active"
    assert props["UnitFileState"] == "enabled"
    assert props["FragmentPath"] == "/etc/systemd/system/" + unit(host)
    assert "path=/usr/local/bin/k3s" in props["ExecStart"]
    assert ("argv[]=/usr/local/bin/k3s %s " % ("server" if is_server(host) else "agent")) in props["ExecStart"]
    assert props["KillMode"] == "process" and props["Delegate"] == "yes"
    assert host.file("/etc/systemd/system/" + unit(host)).mode == 0o644
    # Only one role per node.
    other = "k3s-agent.service" if is_server(host) else "k3s.service"
    assert not host.file("/etc/systemd/system/" + other).exists


def test_binary_is_installed_under_its_version_from_the_bundle(host):
    link = host.file("/usr/local/bin/k3s")
    assert link.is_symlink and link.linked_to == "/opt/groundwork/k3s/%s/k3s" % VERSION
    binary = host.file("/opt/groundwork/k3s/%s/k3s" % VERSION)
    assert binary.mode == 0o755 and binary.user == "root"
    assert binary.sha256sum == host.file("%s/k3s/%s/k3s" % (DEST, VERSION)).sha256sum
    assert host.file("%s/k3s/current" % DEST).linked_to == "%s/k3s/%s" % (DEST, VERSION)
    assert host.check_output("k3s --version").startswith("k3s version v%s " % VERSION)


def test_an_amd64_node_got_the_amd64_files_of_the_release_and_none_of_arm64(host):
    names = sorted(host.file("%s/k3s/%s" % (DEST, VERSION)).listdir())
    assert "k3s" in names and "sha256sum-amd64.txt" in names
    assert [n for n in names if n.startswith("k3s-airgap-images-")]
    assert all(n in ("k3s", "sha256sum-amd64.txt") or n.startswith("k3s-airgap-images-amd64.") for n in names), names
    if not REAL:
        # The release also carries the arm64 stand-in; this node runs the one labelled amd64.
        assert "(standin-amd64)" in host.check_output("k3s --version")


def test_image_tarballs_are_where_k3s_imports_them(host):
    images = host.file("/var/lib/rancher/k3s/agent/images")
    assert images.is_directory
    names = images.listdir()
    assert names and all(n.startswith("k3s-airgap-images-amd64.") for n in names)
    for n in names:
        assert host.file(images.path + "/" + n).sha256sum == host.file("%s/k3s/%s/%s" % (DEST, VERSION, n)).sha256sum


def test_token_is_one_root_only_file_and_the_same_everywhere(host):
    token = host.file("/etc/rancher/k3s/cluster-token")
    assert token.mode == 0o600 and token.user == "root" and token.group == "root"
    value = token.content_string.strip()
    assert len(value) == 48 and value.isalnum()
    first = host.get_host("ansible://k3s-server-1", ansible_inventory=host.backend.ansible_inventory)
    assert first.file("/etc/rancher/k3s/cluster-token").content_string.strip() == value
    for path in ("/etc/rancher/k3s/config.yaml", "/etc/systemd/system/" + unit(host)):
        assert value not in host.file(path).content_string


def test_servers_hold_k3s_token_files_with_the_cluster_token(host):
    if not is_server(host):
        assert not host.file("/var/lib/rancher/k3s/server/token").exists
        return
    value = host.file("/etc/rancher/k3s/cluster-token").content_string.strip()
    for n in ("token", "node-token"):
        f = host.file("/var/lib/rancher/k3s/server/" + n)
        assert f.mode == 0o600 and f.user == "root"
        assert f.content_string.strip().endswith("::server:" + value)


def test_config_is_root_only_and_says_how_the_node_joins(host):
    config = host.file("/etc/rancher/k3s/config.yaml")
    assert config.mode == 0o600 and config.user == "root"
    text = config.content_string
    endpoint = host.get_host("ansible://k3s-server-1", ansible_inventory=host.backend.ansible_inventory) \
        .interface("eth0").addresses[0]
    assert 'token-file: "/etc/rancher/k3s/cluster-token"' in text
    assert 'node-name: "%s"' % name(host) in text
    if name(host) == "k3s-server-1":
        assert "cluster-init: true" in text and "server:" not in text
    else:
        assert 'server: "https://%s:6443"' % endpoint in text and "cluster-init" not in text
    if is_server(host):
        assert 'tls-san:\n  - "%s"\n  - "k3s-api.lab.test"\n' % endpoint in text
    registries = host.file("/etc/rancher/k3s/registries.yaml")
    assert registries.mode == 0o600 and "https://registry.lab.test:5000" in registries.content_string


def test_served_certificate_names_the_api_endpoint(host):
    if not is_server(host):
        pytest.skip("servers only")
    out = host.check_output("openssl s_client -connect 127.0.0.1:6443 </dev/null 2>/dev/null | openssl x509 -noout -ext subjectAltName")
    endpoint = host.get_host("ansible://k3s-server-1", ansible_inventory=host.backend.ansible_inventory) \
        .interface("eth0").addresses[0]
    assert "IP Address:%s" % endpoint in out and "DNS:k3s-api.lab.test" in out


def test_workloads_are_in_the_auto_deploy_directories_of_servers_only(host):
    manifests = "/var/lib/rancher/k3s/server/manifests/groundwork"
    if not is_server(host):
        assert not host.file(manifests).exists
        return
    hello = host.file(manifests + "/hello-manifests/manifests/hello.yaml")
    assert hello.mode == 0o600
    assert hello.sha256sum == host.file(DEST + "/hello-manifests/current/manifests/hello.yaml").sha256sum
    chart = host.file("/var/lib/rancher/k3s/server/static/charts/hello-chart.tgz")
    assert chart.sha256sum == host.file(DEST + "/hello-chart/current/hello-chart-0.1.0.tgz").sha256sum
    helm = host.file(manifests + "/helm-hello-chart.yaml").content_string
    assert "chart: https://%{KUBERNETES_API}%/static/charts/hello-chart.tgz" in helm
    assert "targetNamespace: lab-dev" in helm and "greeting: hello from groundwork" in helm
    namespaces = host.file(manifests + "/namespaces.yaml").content_string
    assert "name: lab-dev" in namespaces and "name: lab-prod" in namespaces


def test_kubeconfig_on_the_controller_is_private_and_points_at_the_endpoint(host):
    mode = stat.S_IMODE(os.stat(KUBECONFIG).st_mode)
    assert mode == 0o600
    with open(KUBECONFIG, encoding="utf-8") as handle:
        text = handle.read()
    endpoint = host.get_host("ansible://k3s-server-1", ansible_inventory=host.backend.ansible_inventory) \
        .interface("eth0").addresses[0]
    assert "server: https://%s:6443" % endpoint in text
    assert "current-context: groundwork-molecule" in text
    assert "127.0.0.1" not in text


def test_every_node_is_ready_through_the_kubernetes_client(host):
    kubernetes = pytest.importorskip("kubernetes")
    client = kubernetes.config.new_client_from_config(config_file=KUBECONFIG)
    nodes = kubernetes.client.CoreV1Api(client).list_node().items
    assert sorted(n.metadata.name for n in nodes) == NODES
    for node in nodes:
        ready = [c for c in node.status.conditions if c.type == "Ready"]
        assert ready and ready[0].status == "True", node.metadata.name
        assert node.status.node_info.kubelet_version == "v" + VERSION
        servers = "node-role.kubernetes.io/control-plane" in (node.metadata.labels or {})
        assert servers == (node.metadata.name in SERVERS)


@pytest.mark.skipif(not REAL, reason="real k3s only (GROUNDWORK_K3S_BUNDLE_DIR): the stand-in runs no workloads")
def test_bundled_workloads_run_on_real_k3s(host):
    kubernetes = pytest.importorskip("kubernetes")
    client = kubernetes.config.new_client_from_config(config_file=KUBECONFIG)
    apps = kubernetes.client.AppsV1Api(client)
    deadline = time.time() + 180
    deployment = apps.read_namespaced_deployment("hello", "lab-dev")
    while deployment.status.ready_replicas != 1 and time.time() < deadline:
        time.sleep(2)
        deployment = apps.read_namespaced_deployment("hello", "lab-dev")
    assert deployment.status.ready_replicas == 1
    core = kubernetes.client.CoreV1Api(client)
    assert core.read_namespaced_config_map("hello-chart", "lab-dev").data["greeting"] == "hello from groundwork"
    assert {ns.metadata.name for ns in core.list_namespace().items} >= {"lab-dev", "lab-prod"}
