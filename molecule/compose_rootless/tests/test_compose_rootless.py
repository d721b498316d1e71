"""What a user checks on a rootless compose host after converge and the idempotence run:
no root engine runs, app's engine does, the project's containers run as app and its
subordinate ids (never as root), they are healthy and answer on the published port, and
the release's configuration and secret belong to app with mode 0600."""

USER = "app"
PROJECT = "hello-rootless"
CONFIG = "/etc/groundwork/compose/" + PROJECT + "/1.0.0"
PORT = 8082
SECRET = "s3cr3t-of-the-rootless-test"


def _uid(host):
    return int(host.run("id -u " + USER).stdout.strip())


def _subuids(host):
    """(start, count) of app's range in /etc/subuid."""
    for line in host.file("/etc/subuid").content_string.splitlines():
        name, start, count = line.split(":")
        if name == USER:
            return int(start), int(count)
    raise AssertionError("no subordinate ids for %s in /etc/subuid" % USER)


def _docker(host, args):
    return host.run("DOCKER_HOST=unix:///run/user/%d/docker.sock docker %s" % (_uid(host), args))


def _processes(host, name):
    """(pid, real uid) of every process whose command is ``name``, as /proc shows them."""
    out = host.run("grep -H -E '^(Name|Uid):' /proc/[0-9]*/status").stdout
    found, names = [], {}
    for line in out.splitlines():
        path, dummy, rest = line.partition(":")
        pid = path.split("/")[2]
        key, dummy, value = rest.partition(":")
        if key == "Name":
            names[pid] = value.strip()
        elif key == "Uid" and names.get(pid) == name:
            found.append((int(pid), int(value.split()[0])))
    return found


def test_no_root_engine_runs(host):
    for unit in ("docker.service", "docker.socket", "containerd.service"):
        assert host.run("systemctl is-active " + unit).stdout.strip() != "active", unit
        assert host.run("systemctl is-enabled " + unit).stdout.strip() == "masked", unit
    # Every engine process, the user's dockerd and the containerd it started, runs as app.
    for name in ("dockerd", "containerd"):
        found = _processes(host, name)
        assert found, "no %s runs at all" % name
        assert [uid for pid, uid in found] == [_uid(host)] * len(found), (name, found)
    # The root engine's socket may stay behind as a file: nothing answers on it.
    assert host.run("docker -H unix:///var/run/docker.sock version --format '{{.Server.Version}}'").rc != 0


def test_the_users_engine_is_a_lingering_user_service(host):
    assert host.file("/var/lib/systemd/linger/" + USER).exists
    state = host.run("sudo -u %s XDG_RUNTIME_DIR=/run/user/%d systemctl --user is-active docker.service" % (USER, _uid(host)))
    assert state.stdout.strip() == "active"
    info = _docker(host, "info --format '{{json .SecurityOptions}} {{.DockerRootDir}}'")
    assert "name=rootless" in info.stdout
    assert info.stdout.strip().endswith("/srv/rootless-docker/data")


def test_the_containers_run_as_the_user_and_its_subordinate_ids(host):
    start, count = _subuids(host)
    assert count >= 65536
    pids = {}
    for service in ("web", "worker"):
        pid = _docker(host, "inspect --format '{{.State.Pid}}' %s-%s-1" % (PROJECT, service)).stdout.strip()
        status = host.file("/proc/%s/status" % pid).content_string
        pids[service] = int([line for line in status.splitlines() if line.startswith("Uid:")][0].split()[1])
    # web runs as uid 1000 inside its container: app's subordinate id start + 999 outside.
    assert pids["web"] == start + 999
    assert start <= pids["web"] < start + count
    # worker runs as root inside its container: that is app itself outside, never root.
    assert pids["worker"] == _uid(host)


def test_the_project_is_healthy_and_answers_on_its_port(host):
    for service in ("web", "worker"):
        state = _docker(host, "inspect --format '{{.State.Health.Status}}' %s-%s-1" % (PROJECT, service))
        assert state.stdout.strip() == "healthy", service
    page = host.run("python3 -c 'import urllib.request; print(urllib.request.urlopen(\"http://127.0.0.1:%d/\").read().decode(), end=\"\")'" % PORT)
    assert page.rc == 0, page.stderr
    assert page.stdout == "hello-rootless 1.0.0\n"


def test_configuration_and_secret_belong_to_the_user(host):
    secret = host.file(CONFIG + "/secrets/api_token")
    assert (secret.user, secret.mode) == (USER, 0o600)
    assert host.file(CONFIG + "/.env").user == USER
    assert host.file(CONFIG).user == USER
    read = _docker(host, "exec %s-worker-1 cat /run/secrets/api_token" % PROJECT)
    assert read.stdout == SECRET


def test_the_user_sees_the_project_with_the_docker_cli(host):
    """As docs/guides/docker-compose.md shows it ("Rootless Docker"): from a directory app
    may read (docker compose reads the .env of the working directory; over SSH that is the
    login user's home, which app may not read)."""
    listed = host.run("cd / && sudo -u %s DOCKER_HOST=unix:///run/user/%d/docker.sock docker compose ls" % (USER, _uid(host)))
    assert listed.rc == 0, listed.stderr
    assert PROJECT in listed.stdout and "running(2)" in listed.stdout
