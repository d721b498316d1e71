"""What a user checks after converge and the idempotence run: the project answers
on its published port with version 1.0.0, the .env and the secret landed with the
right modes and reach the container, the engine is configured as asked, and the
second run loaded no image."""

import json
import os

import yaml

PROJECT = "hello-compose"
DEST = "/opt/groundwork/bundles"
CONFIG = "/etc/groundwork/compose/" + PROJECT + "/1.0.0"
SECRET = "s3cr3t-token-for-the-test"
PORT = 8081


def _compose(host, *args):
    return host.run("docker compose --project-name %s %s" % (PROJECT, " ".join(args)))


def test_service_answers_on_its_published_port(host):
    page = host.run("python3 -c 'import urllib.request; print(urllib.request.urlopen(\"http://127.0.0.1:%d/\").read().decode(), end=\"\")'" % PORT)
    assert page.rc == 0, page.stderr
    assert page.stdout == "hello-compose 1.0.0\n"


def test_service_is_healthy(host):
    state = host.run("docker inspect --format '{{.State.Health.Status}}' %s-web-1" % PROJECT)
    assert state.stdout.strip() == "healthy"


def test_project_runs_from_the_versioned_bundle_directory(host):
    assert host.file(DEST + "/" + PROJECT + "/current").linked_to == DEST + "/" + PROJECT + "/1.0.0"
    workdir = host.run("docker inspect --format '{{index .Config.Labels \"com.docker.compose.project.working_dir\"}}' %s-web-1" % PROJECT)
    assert workdir.stdout.strip() == DEST + "/" + PROJECT + "/1.0.0"


def test_env_file_is_rendered_and_used(host):
    env = host.file(CONFIG + "/.env")
    assert env.mode == 0o600
    assert 'GREETING="hello from the inventory"' in env.content_string
    assert 'HTTP_PORT="8081"' in env.content_string
    greeting = _compose(host, "exec", "-T", "web", "sh", "-c", "'echo \"$GREETING\"'")
    assert greeting.stdout.strip() == "hello from the inventory"


def test_secret_file_mode_and_content(host):
    secrets = host.file(CONFIG + "/secrets")
    assert secrets.mode == 0o700
    secret = host.file(CONFIG + "/secrets/api_token")
    assert secret.mode == 0o600
    assert secret.user == "root"
    assert secret.content_string == SECRET
    inside = _compose(host, "exec", "-T", "web", "cat", "/run/secrets/api_token")
    assert inside.stdout == SECRET


def test_secret_is_not_in_the_bundle_or_the_env(host):
    assert SECRET not in host.file(CONFIG + "/.env").content_string
    grep = host.run("grep -rl %s %s/%s" % (SECRET, DEST, PROJECT))
    assert grep.stdout == ""


def test_images_were_loaded_once():
    # converge.yml appends one line per run: "<time> run|check <tarballs loaded or -> up|no-up".
    log = os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "compose-test", "image-loads.log")
    with open(log) as handle:
        runs = [line.split() for line in handle if line.strip()]
    real = [fields[2:] for fields in runs if fields[1] == "run"]
    # ... and the second run, which changed nothing, found the release running healthy and
    # skipped docker compose up and its watch (issue 17, the deploy re-run figure).
    assert real == [["hello-compose-1.0.0.tar,hello-store-1.tar", "up"], ["-", "no-up"]], runs


def test_the_host_got_and_loaded_the_images_of_its_platform_only(host):
    # Release 2026.11.0 carries hello-compose 1.0.0's images for amd64 and for arm64 under the
    # same tags (per_arch sources, issue 18); the host is amd64.
    www = os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "compose-test", "www", "2026.11.0")
    with open(os.path.join(www, "manifest.yaml")) as handle:
        artifacts = yaml.safe_load(handle)["components"][0]["artifacts"]
    assert sorted(a.get("arch", "all") for a in artifacts) == ["all", "amd64", "arm64"]
    assert host.run("dpkg --print-architecture").stdout.strip() == "amd64"
    images = host.run("ls %s/%s/1.0.0/images" % (DEST, PROJECT))
    assert images.stdout.split() == ["hello-compose-1.0.0.tar", "hello-store-1.tar"]
    arm64 = host.run("find %s -name '*arm64*'" % DEST)
    assert arm64.rc == 0 and arm64.stdout == ""
    ids = _built_ids()
    for tag, built in (("groundwork/hello-compose:1.0.0", ids["web"]), ("groundwork/hello-store:1", ids["store"])):
        image = host.run("docker image inspect --format '{{.Architecture}} {{.Id}}' %s" % tag)
        assert image.stdout.split() == ["amd64", built], tag


def _built_ids():
    with open(os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "compose-test", "image-ids.json")) as handle:
        return json.load(handle)["1.0.0"]


def test_digest_pinned_services_run_the_bundle_images(host):
    # docker-compose.yml pins name:tag@sha256:<image ID>; docker load records no repository
    # digest, so the role runs the bundle's image by its tag (compose.groundwork.yaml).
    ids = _built_ids()
    compose_file = host.file(DEST + "/" + PROJECT + "/1.0.0/docker-compose.yml").content_string
    assert "groundwork/hello-store:1@" + ids["store"] in compose_file
    for service in ("web", "store"):
        image = host.run("docker inspect --format '{{.Image}}' %s-%s-1" % (PROJECT, service))
        assert image.stdout.strip() == ids[service]
    override = host.file(CONFIG + "/compose.groundwork.yaml").content_string
    assert '"store":\n    image: "groundwork/hello-store:1"' in override


def test_env_files_of_the_services_are_read_relative_to_the_project(host):
    env = _compose(host, "exec", "-T", "store", "sh", "-c", "'echo $STORE_MODE $STORE_PORT'")
    assert env.stdout.strip() == "serve 8000"
    web = _compose(host, "exec", "-T", "web", "sh", "-c", "'echo $STORE_URL'")
    assert web.stdout.strip() == "http://store:8000"


def test_named_volumes_and_two_networks(host):
    volumes = host.run("docker volume ls --quiet --filter label=com.docker.compose.project=%s" % PROJECT)
    assert sorted(volumes.stdout.split()) == [PROJECT + "_store-data", PROJECT + "_web-cache"]
    store_nets = host.run("docker inspect --format '{{json .NetworkSettings.Networks}}' %s-store-1" % PROJECT)
    web_nets = host.run("docker inspect --format '{{json .NetworkSettings.Networks}}' %s-web-1" % PROJECT)
    assert sorted(json.loads(store_nets.stdout)) == [PROJECT + "_backend"]
    assert sorted(json.loads(web_nets.stdout)) == [PROJECT + "_backend", PROJECT + "_frontend"]
    internal = host.run("docker network inspect --format '{{.Internal}}' %s_backend" % PROJECT)
    assert internal.stdout.strip() == "true"


def test_daemon_json(host):
    config = json.loads(host.file("/etc/docker/daemon.json").content_string)
    assert config["log-driver"] == "json-file"
    assert config["log-opts"] == {"max-size": "5m", "max-file": "2"}
    assert config["live-restore"] is True
    running = host.run("docker info --format '{{.LoggingDriver}} {{.LiveRestoreEnabled}}'")
    assert running.stdout.strip() == "json-file true"


def test_container_logs_rotate(host):
    opts = host.run("docker inspect --format '{{json .HostConfig.LogConfig}}' %s-web-1" % PROJECT)
    assert json.loads(opts.stdout)["Config"] == {"max-size": "5m", "max-file": "2"}


def test_engine_and_compose_v2_run(host):
    assert host.service("docker").is_running
    assert host.service("docker").is_enabled
    compose = host.run("docker compose version --short")
    assert compose.rc == 0
    assert int(compose.stdout.split(".")[0]) >= 2


def test_user_in_docker_group(host):
    assert "docker" in host.user("deploy").groups
