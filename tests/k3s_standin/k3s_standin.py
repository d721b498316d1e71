# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""k3s STAND-IN for the groundwork.infra molecule scenario. This is NOT k3s.

No k3s binary can be downloaded on the machines this collection is tested on,
so molecule/k3s packages this file into a bundle of kind `k3s` as the `k3s`
binary (prepare.yml adds a `#!/usr/bin/python3` line and sets STANDIN_VERSION and
STANDIN_ARCH: one stand-in "build" per architecture, as k3s ships `k3s` and `k3s-arm64`).
It honours only the contract the groundwork.infra.k3s role relies on:

- `k3s --version` prints like k3s: `k3s version v1.31.4+k3s1 (standin-amd64)`, the part in
  parentheses (k3s's commit) naming the architecture the stand-in was packaged for;
- like a binary for another architecture, the stand-in refuses to run at all on a machine
  whose architecture (`uname -m`) is not STANDIN_ARCH: it prints `exec format error` and
  exits 126, so a node given another architecture's build fails its version check;
- `k3s server` and `k3s agent` read /etc/rancher/k3s/config.yaml (flat keys,
  scalars and lists) and tell systemd they are ready (Type=notify, READY=1 on
  $NOTIFY_SOCKET);
- the first server (`cluster-init`) keeps the cluster token (configured through
  `token`/`token-file`, or generated) and writes server/token and
  server/node-token mode 0600 as `K10<ca sha256>::server:<password>`;
- a further server or an agent joins over the network with the token; a wrong
  token is rejected and the process exits non-zero, so the unit fails;
- HTTPS on port 6443 (`https-listen-port`) with a certificate made by the
  `openssl` command line tool, whose names are localhost, 127.0.0.1, the node
  name and the `tls-san` entries (unlike k3s, NOT the node's IP addresses);
  it answers the Kubernetes API calls `kubernetes.core.k8s_info` makes for
  nodes: /version, /readyz, /readyz/etcd, /livez, /healthz, discovery at /api,
  /apis and /api/v1, and /api/v1/nodes[/<name>] in the API's JSON shape;
- /etc/rancher/k3s/k3s.yaml, a kubeconfig for https://127.0.0.1:6443 (a bearer
  token instead of k3s's client certificate);
- `k3s kubectl get --raw <path>` through that kubeconfig.

Nothing runs containers, there is no etcd and no manifest is applied.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import http.server
import json
import os
import re
import secrets
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

STANDIN_VERSION = "v1.31.4+k3s1"
STANDIN_ARCH = "amd64"
STANDIN_COMMIT = "standin-" + STANDIN_ARCH
# uname -m -> the architecture names of k3s release files (k3s, k3s-arm64, k3s-armhf).
MACHINE_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "arm64": "arm64", "armv7l": "arm", "armv8l": "arm"}
CONFIG_FILE = "/etc/rancher/k3s/config.yaml"
KUBECONFIG = "/etc/rancher/k3s/k3s.yaml"
HEARTBEAT_SECONDS = 2
READY_SECONDS = 15
STOP = threading.Event()


def log(msg):
    sys.stderr.write("k3s-standin: %s\n" % msg)
    sys.stderr.flush()


def now_iso():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_config(path):
    """The flat YAML k3s config files use: `key: scalar` and `key:` followed by `  - item` lines."""
    config = {}
    if not os.path.exists(path):
        return config
    current = None
    with open(path, encoding="utf-8") as handle:
        for raw in handle:
            line = raw.rstrip("\n")
            if not line.strip() or line.lstrip().startswith("#") or line.strip() == "---":
                continue
            item = re.match(r"^\s*-\s+(.*)$", line)
            if item and current is not None:
                config[current].append(scalar(item.group(1)))
                continue
            pair = re.match(r"^([A-Za-z0-9_-]+):\s*(.*)$", line)
            if not pair:
                raise ValueError("%s: cannot read line %r (the stand-in reads flat keys only)" % (path, line))
            key, value = pair.group(1), pair.group(2).strip()
            if value == "":
                config[key] = []
                current = key
            else:
                config[key] = scalar(value)
                current = None
    return config


def scalar(text):
    text = text.strip()
    if text.startswith('"'):
        return json.loads(text)
    if text.startswith("'") and text.endswith("'"):
        return text[1:-1].replace("''", "'")
    if text in ("true", "false"):
        return text == "true"
    return text


def parse_args(argv):
    """k3s flags given on the command line (--key value, --key=value, --flag) override config.yaml."""
    config_path = CONFIG_FILE
    overrides = {}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if not arg.startswith("--"):
            raise SystemExit("k3s-standin: unexpected argument %r" % arg)
        key, sep, value = arg[2:].partition("=")
        if not sep:
            if i + 1 < len(argv) and not argv[i + 1].startswith("--"):
                value = argv[i + 1]
                i += 1
            else:
                value = True
        if key == "config":
            config_path = value
        else:
            overrides[key] = value
        i += 1
    config = parse_config(config_path)
    config.update(overrides)
    return config


def as_list(value):
    if value in (None, ""):
        return []
    return value if isinstance(value, list) else [value]


def token_password(config):
    """The password part of the configured token (plain, or k3s's K10<hash>::<user>:<password> form)."""
    token = config.get("token")
    if config.get("token-file"):
        with open(config["token-file"], encoding="utf-8") as handle:
            token = handle.read().strip()
    if not token:
        return None
    token = str(token)
    match = re.match(r"^K10[0-9a-f]+::[^:]+:(.+)$", token)
    return match.group(1) if match else token


def sd_notify(message):
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return
    if address.startswith("@"):
        address = "\0" + address[1:]
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        sock.connect(address)
        sock.sendall(message.encode())
    finally:
        sock.close()


def write_private(path, content):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path))
    with os.fdopen(fd, "w") as handle:
        handle.write(content)
    os.chmod(tmp, 0o600)
    os.rename(tmp, path)


def read(path):
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def openssl(*args):
    subprocess.run(["openssl"] + list(args), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def node_ip(config):
    if config.get("node-ip"):
        return str(as_list(config["node-ip"])[0])
    try:
        return socket.gethostbyname(socket.gethostname())
    except OSError:
        return "127.0.0.1"


class Cluster:
    """Server side state of the stand-in: certificates, tokens and the node list."""

    def __init__(self, config):
        self.config = config
        self.data = config.get("data-dir") or "/var/lib/rancher/k3s"
        self.server_dir = os.path.join(self.data, "server")
        self.tls = os.path.join(self.server_dir, "tls-standin")
        self.nodes_file = os.path.join(self.server_dir, "standin-nodes.json")
        self.name = config.get("node-name") or socket.gethostname()
        self.port = int(config.get("https-listen-port") or 6443)
        self.upstream = config.get("server")
        self.lock = threading.Lock()
        self.password = None
        self.admin_token = None

    # -- bootstrap -------------------------------------------------------
    def bootstrap(self):
        os.makedirs(self.tls, mode=0o700, exist_ok=True)
        ca_crt = os.path.join(self.tls, "ca.crt")
        configured = token_password(self.config)
        if self.upstream:
            if not configured:
                raise SystemExit("k3s-standin: a joining server needs a token")
            answer = join(self.upstream, configured, self.name, "server", node_ip(self.config))
            write_private(ca_crt, answer["ca_crt"])
            write_private(os.path.join(self.tls, "ca.key"), answer["ca_key"])
            write_private(os.path.join(self.tls, "admin-token"), answer["admin_token"])
            self.password = configured
        else:
            if not os.path.exists(ca_crt):
                key = os.path.join(self.tls, "ca.key")
                openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                        "-keyout", key, "-out", ca_crt, "-days", "3650", "-subj", "/CN=k3s-standin-server-ca",
                        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
                os.chmod(key, 0o600)
                write_private(os.path.join(self.tls, "admin-token"), secrets.token_hex(24))
            stored = os.path.join(self.server_dir, "token")
            if configured:
                self.password = configured
            elif os.path.exists(stored):
                self.password = read(stored).strip().rsplit(":", 1)[1]
            else:
                self.password = secrets.token_hex(16)
        self.admin_token = read(os.path.join(self.tls, "admin-token")).strip()
        ca_hash = hashlib.sha256(read(ca_crt).encode()).hexdigest()
        full = "K10%s::server:%s\n" % (ca_hash, self.password)
        for name in ("token", "node-token"):
            write_private(os.path.join(self.server_dir, name), full)
        self.serving_cert()
        self.write_kubeconfig(read(ca_crt))
        self.register(self.name, "server", STANDIN_VERSION, node_ip(self.config))

    def serving_cert(self):
        sans = ["DNS:localhost", "IP:127.0.0.1", "DNS:" + self.name]
        for san in as_list(self.config.get("tls-san")):
            san = str(san)
            sans.append(("IP:" if re.match(r"^[0-9.]+$|:", san) else "DNS:") + san)
        wanted = ",".join(sans)
        stamp = os.path.join(self.tls, "serving.sans")
        if os.path.exists(stamp) and read(stamp) == wanted:
            return
        key = os.path.join(self.tls, "serving.key")
        csr = os.path.join(self.tls, "serving.csr")
        ext = os.path.join(self.tls, "serving.ext")
        with open(ext, "w", encoding="utf-8") as handle:
            handle.write("subjectAltName=%s\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
                         "extendedKeyUsage=serverAuth\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n" % wanted)
        openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key,
                "-out", csr, "-subj", "/CN=k3s-standin")
        openssl("x509", "-req", "-in", csr, "-CA", os.path.join(self.tls, "ca.crt"), "-CAkey", os.path.join(self.tls, "ca.key"),
                "-set_serial", str(int.from_bytes(os.urandom(8), "big")), "-days", "3650", "-out",
                os.path.join(self.tls, "serving.crt"), "-extfile", ext)
        os.chmod(key, 0o600)
        write_private(stamp, wanted)

    def write_kubeconfig(self, ca_pem):
        path = self.config.get("write-kubeconfig") or KUBECONFIG
        content = (
            "apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: %s\n    server: https://127.0.0.1:%d\n"
            "  name: default\ncontexts:\n- context:\n    cluster: default\n    user: default\n  name: default\n"
            "current-context: default\nkind: Config\npreferences: {}\nusers:\n- name: default\n  user:\n    token: %s\n"
        ) % (base64.b64encode(ca_pem.encode()).decode(), self.port, self.admin_token)
        mode = int(str(self.config.get("write-kubeconfig-mode") or "0600"), 8)
        if not os.path.exists(path) or read(path) != content:
            write_private(path, content)
        os.chmod(path, mode)

    # -- node list -------------------------------------------------------
    def load(self):
        if os.path.exists(self.nodes_file):
            return json.loads(read(self.nodes_file))
        return {}

    def save(self, nodes):
        write_private(self.nodes_file, json.dumps(nodes, indent=1, sort_keys=True))

    def register(self, name, role, version, address, arch=STANDIN_ARCH):
        with self.lock:
            nodes = self.load()
            entry = nodes.setdefault(name, {"created": now_iso(), "uid": secrets.token_hex(16)})
            entry.update(role=role, version=version, ip=address, arch=arch, heartbeat=time.time())
            self.save(nodes)

    def merge(self, remote):
        with self.lock:
            nodes = self.load()
            for name, entry in remote.items():
                if name != self.name and (name not in nodes or entry["heartbeat"] > nodes[name]["heartbeat"]):
                    nodes[name] = entry
            self.save(nodes)

    def node_object(self, name, entry):
        ready = time.time() - entry["heartbeat"] < READY_SECONDS
        labels = {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": entry.get("arch", "amd64"),
                  "node.kubernetes.io/instance-type": "k3s"}
        if entry["role"] == "server":
            labels.update({"node-role.kubernetes.io/control-plane": "true", "node-role.kubernetes.io/etcd": "true",
                           "node-role.kubernetes.io/master": "true"})
        beat = datetime.datetime.fromtimestamp(entry["heartbeat"], datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        return {
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "uid": entry["uid"], "resourceVersion": str(int(entry["heartbeat"])),
                         "creationTimestamp": entry["created"], "labels": labels,
                         "annotations": {"groundwork.infra/k3s-standin": "this node is served by the k3s stand-in"}},
            "spec": {},
            "status": {
                "conditions": [{"type": "Ready", "status": "True" if ready else "Unknown",
                                "reason": "KubeletReady" if ready else "NodeStatusUnknown",
                                "message": "k3s stand-in heartbeat" if ready else "no heartbeat from the k3s stand-in",
                                "lastHeartbeatTime": beat, "lastTransitionTime": beat}],
                "addresses": [{"type": "InternalIP", "address": entry["ip"]}, {"type": "Hostname", "address": name}],
                "nodeInfo": {"kubeletVersion": entry["version"], "kubeProxyVersion": entry["version"],
                             "containerRuntimeVersion": "standin://0", "operatingSystem": "linux",
                             "architecture": entry.get("arch", "amd64"),
                             "osImage": "k3s stand-in", "kernelVersion": os.uname().release, "machineID": "",
                             "systemUUID": "", "bootID": ""},
            },
        }

    def heartbeat_loop(self):
        while not STOP.wait(HEARTBEAT_SECONDS):
            self.register(self.name, "server", STANDIN_VERSION, node_ip(self.config))
            if self.upstream:
                try:
                    post(self.upstream, "/standin/v1/join", self.password,
                         {"name": self.name, "role": "server", "version": STANDIN_VERSION, "ip": node_ip(self.config),
                          "arch": STANDIN_ARCH})
                    self.merge(get_json(self.upstream, "/standin/v1/nodes", self.password))
                except (OSError, ValueError) as exc:
                    log("upstream %s not reachable: %s" % (self.upstream, exc))


def version_object():
    match = re.match(r"^v(\d+)\.(\d+)", STANDIN_VERSION)
    return {"major": match.group(1), "minor": match.group(2), "gitVersion": STANDIN_VERSION, "gitCommit": STANDIN_COMMIT,
            "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z", "goVersion": "k3s-standin",
            "compiler": "python", "platform": "linux/" + STANDIN_ARCH}


RESOURCES = {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "v1", "resources": [
    {"name": "nodes", "singularName": "node", "namespaced": False, "kind": "Node", "verbs": ["get", "list"], "shortNames": ["no"]},
]}


class Handler(http.server.BaseHTTPRequestHandler):
    cluster = None
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        pass

    def send(self, code, body, ctype="application/json"):
        data = body if isinstance(body, bytes) else (json.dumps(body) if ctype == "application/json" else body).encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def status(self, code, reason, message):
        self.send(code, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                         "message": message, "reason": reason, "code": code})

    def bearer(self):
        header = self.headers.get("Authorization") or ""
        return header[7:] if header.startswith("Bearer ") else None

    def cluster_auth(self):
        if self.bearer() != self.cluster.password:
            self.status(401, "Unauthorized", "k3s stand-in: token rejected")
            return False
        return True

    def do_POST(self):  # pylint: disable=invalid-name
        if self.path != "/standin/v1/join":
            self.status(404, "NotFound", "k3s stand-in: no such path")
            return
        if not self.cluster_auth():
            return
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        self.cluster.register(body["name"], body["role"], body["version"], body.get("ip") or self.client_address[0],
                              body.get("arch", "amd64"))
        answer = {"ok": True}
        if body["role"] == "server":
            answer.update(ca_crt=read(os.path.join(self.cluster.tls, "ca.crt")),
                          ca_key=read(os.path.join(self.cluster.tls, "ca.key")), admin_token=self.cluster.admin_token)
        self.send(200, answer)

    def do_GET(self):  # pylint: disable=invalid-name
        path = self.path.split("?", 1)[0].rstrip("/") or "/"
        if path == "/standin/v1/nodes":
            if self.cluster_auth():
                self.send(200, self.cluster.load())
            return
        if self.bearer() != self.cluster.admin_token:
            self.status(401, "Unauthorized", "Unauthorized")
            return
        nodes = self.cluster.load()
        if path in ("/readyz", "/livez", "/healthz", "/readyz/etcd", "/healthz/etcd"):
            self.send(200, "ok", "text/plain")
        elif path == "/version":
            self.send(200, version_object())
        elif path == "/api":
            self.send(200, {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [
                {"clientCIDR": "0.0.0.0/0", "serverAddress": "%s:%d" % (node_ip(self.cluster.config), self.cluster.port)}]})
        elif path == "/apis":
            self.send(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": []})
        elif path == "/api/v1":
            self.send(200, RESOURCES)
        elif path == "/api/v1/nodes":
            self.send(200, {"kind": "NodeList", "apiVersion": "v1", "metadata": {"resourceVersion": str(int(time.time()))},
                            "items": [self.cluster.node_object(n, e) for n, e in sorted(nodes.items())]})
        elif path.startswith("/api/v1/nodes/") and path.count("/") == 4:
            name = path.rsplit("/", 1)[1]
            if name in nodes:
                self.send(200, self.cluster.node_object(name, nodes[name]))
            else:
                self.status(404, "NotFound", 'nodes "%s" not found' % name)
        else:
            self.status(404, "NotFound", "the k3s stand-in does not serve %s" % path)


def client_context():
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def request(url, token, data=None):
    req = urllib.request.Request(url, data=None if data is None else json.dumps(data).encode(),
                                 headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10, context=client_context()) as answer:
        return json.loads(answer.read())


def post(server, path, token, data):
    return request(server.rstrip("/") + path, token, data)


def get_json(server, path, token):
    return request(server.rstrip("/") + path, token)


def join(server, password, name, role, address):
    """Join over the network; a rejected token ends the process (the unit fails)."""
    deadline = time.time() + 120
    while True:
        rejected = False
        try:
            body = {"name": name, "role": role, "version": STANDIN_VERSION, "ip": address, "arch": STANDIN_ARCH}
            return post(server, "/standin/v1/join", password, body)
        except urllib.error.HTTPError as exc:
            rejected = exc.code == 401
            error = exc
        except (OSError, ValueError) as exc:
            error = exc
        if rejected:
            log("%s %s: the server %s rejected the token" % (role, name, server))
            sys.exit(1)
        if time.time() > deadline:
            log("%s %s: cannot join %s: %s" % (role, name, server, error))
            sys.exit(1)
        time.sleep(2)


def run_server(config):
    cluster = Cluster(config)
    cluster.bootstrap()
    Handler.cluster = cluster
    httpd = http.server.ThreadingHTTPServer(("0.0.0.0", cluster.port), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(os.path.join(cluster.tls, "serving.crt"), os.path.join(cluster.tls, "serving.key"))
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    threading.Thread(target=cluster.heartbeat_loop, daemon=True).start()
    log("server %s %s listening on :%d" % (cluster.name, STANDIN_VERSION, cluster.port))
    sd_notify("READY=1\nSTATUS=k3s stand-in server running")
    STOP.wait()
    httpd.shutdown()


def run_agent(config):
    server = config.get("server")
    password = token_password(config)
    if not server or not password:
        raise SystemExit("k3s-standin: an agent needs `server` and a token")
    name = config.get("node-name") or socket.gethostname()
    join(server, password, name, "agent", node_ip(config))
    log("agent %s %s joined %s" % (name, STANDIN_VERSION, server))
    sd_notify("READY=1\nSTATUS=k3s stand-in agent joined")
    while not STOP.wait(HEARTBEAT_SECONDS):
        try:
            body = {"name": name, "role": "agent", "version": STANDIN_VERSION, "ip": node_ip(config), "arch": STANDIN_ARCH}
            post(server, "/standin/v1/join", password, body)
        except (OSError, ValueError) as exc:
            log("server %s not reachable: %s" % (server, exc))


def kubectl(argv):
    if len(argv) != 3 or argv[:2] != ["get", "--raw"]:
        raise SystemExit("k3s-standin: only `kubectl get --raw <path>` is provided")
    text = read(os.environ.get("KUBECONFIG") or KUBECONFIG)
    server = re.search(r"server: (\S+)", text).group(1)
    token = re.search(r"token: (\S+)", text).group(1)
    req = urllib.request.Request(server + argv[2], headers={"Authorization": "Bearer " + token})
    try:
        with urllib.request.urlopen(req, timeout=10, context=client_context()) as answer:
            sys.stdout.write(answer.read().decode())
    except urllib.error.HTTPError as exc:
        raise SystemExit("Error from server: %s" % exc.read().decode()) from exc
    except OSError as exc:
        raise SystemExit("k3s-standin: %s" % exc) from exc


def main(argv):
    machine = os.uname().machine
    if MACHINE_ARCH.get(machine, machine) != STANDIN_ARCH:
        sys.stderr.write("k3s-standin: exec format error: this stand-in is the %s build, the machine is %s\n"
                         % (STANDIN_ARCH, machine))
        return 126
    if not argv or argv[0] in ("--version", "-v", "version"):
        sys.stdout.write("k3s version %s (%s)\ngo version k3s-standin (python %s)\n"
                         % (STANDIN_VERSION, STANDIN_COMMIT, sys.version.split()[0]))
        return 0
    signal.signal(signal.SIGTERM, lambda *_: STOP.set())
    signal.signal(signal.SIGINT, lambda *_: STOP.set())
    if argv[0] == "server":
        run_server(parse_args(argv[1:]))
    elif argv[0] == "agent":
        run_agent(parse_args(argv[1:]))
    elif argv[0] == "kubectl":
        kubectl(argv[1:])
    else:
        raise SystemExit("k3s-standin: unknown command %r" % argv[0])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
