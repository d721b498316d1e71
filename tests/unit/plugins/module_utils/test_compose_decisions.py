# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Compose decisions shared by the host-side modules and the build-time check: image IDs of
docker save tarballs, which tarballs the engine lacks, and whether a project came up."""

from __future__ import annotations

import io
import json
import os
import tarfile

import pytest

from ansible_collections.groundwork.infra.plugins.module_utils._compose import (
    COMPOSE_FILE_NAMES,
    ComposeError,
    find_compose_file,
    image_id_of,
    images_to_load,
    job_state,
    only_missing_images,
    parse_image_inspect,
    project_health,
    ps_entries,
    image_architecture,
    release_tarballs,
    select_platform,
    tarball_architecture,
    working_dir_of,
)

OLD = "a" * 64
NEW = "b" * 64


def save(path, entries, extra=None):
    """A tarball laid out as docker save writes it (only manifest.json matters here)."""
    data = json.dumps(entries).encode()
    with tarfile.open(str(path), "w") as archive:
        for name, content in [("blobs/sha256/" + NEW, b"{}")] + list((extra or {}).items()) + [("manifest.json", data)]:
            info = tarfile.TarInfo(name)
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))


def test_the_compose_file_order_is_composes_own():
    assert COMPOSE_FILE_NAMES == ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")


def test_compose_file_order_of_preference_and_no_link(tmp_path):
    for name in reversed(COMPOSE_FILE_NAMES):
        (tmp_path / name).write_text("services: {}\n")
        assert find_compose_file(str(tmp_path)) == name
    os.remove(str(tmp_path / "compose.yaml"))
    os.symlink("compose.yml", str(tmp_path / "compose.yaml"))
    assert find_compose_file(str(tmp_path)) == "compose.yml"


def test_image_id_is_the_config_digest_in_both_layouts():
    assert image_id_of({"Config": "blobs/sha256/" + NEW}) == "sha256:" + NEW  # Docker 25+ (OCI layout)
    assert image_id_of({"Config": OLD + ".json"}) == "sha256:" + OLD  # older docker save


def test_image_id_refuses_a_config_that_is_not_a_digest():
    with pytest.raises(ComposeError, match="not a sha256 config digest"):
        image_id_of({"Config": "config.json"}, "x.tar")


def test_release_tarballs_reads_each_regular_tar_by_name(tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    save(images / "web.tar", [{"Config": "blobs/sha256/" + NEW, "RepoTags": ["example/web:1"]}])
    save(images / "db.tar", [{"Config": OLD + ".json", "RepoTags": ["example/db:1", "example/db:latest"]}])
    (images / "notes.txt").write_text("not a tarball")
    os.symlink("web.tar", str(images / "link.tar"))
    out = release_tarballs(str(tmp_path))
    assert [(os.path.basename(t["path"]), t["tags"]) for t in out] == [
        ("db.tar", ["example/db:1", "example/db:latest"]), ("web.tar", ["example/web:1"])]
    # web.tar's config blob is {} (no platform); db.tar has no config member at all.
    assert out[0]["images"] == [{"id": "sha256:" + OLD, "tags": ["example/db:1", "example/db:latest"], "architecture": None}]
    assert out[1]["images"] == [{"id": "sha256:" + NEW, "tags": ["example/web:1"], "architecture": None}]


def test_release_without_images_has_no_tarballs(tmp_path):
    assert release_tarballs(str(tmp_path)) == []


def test_untagged_tarball_is_refused(tmp_path):
    (tmp_path / "images").mkdir()
    save(tmp_path / "images" / "a.tar", [{"Config": OLD + ".json", "RepoTags": None}])
    with pytest.raises(ComposeError, match="a.tar holds no tagged image"):
        release_tarballs(str(tmp_path))


def test_tarball_without_a_manifest_is_refused(tmp_path):
    (tmp_path / "images").mkdir()
    with tarfile.open(str(tmp_path / "images" / "a.tar"), "w") as archive:
        archive.addfile(tarfile.TarInfo("layer.tar"), io.BytesIO(b""))
    with pytest.raises(ComposeError, match="cannot read manifest.json"):
        release_tarballs(str(tmp_path))


def _tarballs():
    return [{"path": "/rel/images/web.tar", "tags": ["example/web:1"], "images": [{"id": "sha256:" + NEW, "tags": ["example/web:1"]}]},
            {"path": "/rel/images/db.tar", "tags": ["example/db:1"], "images": [{"id": "sha256:" + OLD, "tags": ["example/db:1"]}]}]


def test_images_to_load_when_a_tag_names_another_image():
    # The engine has both tags, but example/web:1 is an older build than the bundle's.
    present = parse_image_inspect('sha256:%s ["example/web:1"]\nsha256:%s ["example/db:1","example/db:latest"]\n' % (OLD, OLD))
    load = images_to_load(_tarballs(), present)
    assert [t["path"] for t in load] == ["/rel/images/web.tar"]
    assert load[0]["reasons"] == ["example/web:1 is sha256:aaaaaaaaaaaa, the bundle has sha256:bbbbbbbbbbbb"]


def test_images_to_load_when_a_tag_is_missing():
    load = images_to_load(_tarballs(), parse_image_inspect('sha256:%s ["example/web:1"]' % NEW))
    assert [(t["path"], t["reasons"]) for t in load] == [("/rel/images/db.tar", ["example/db:1 missing"])]


def test_nothing_to_load_when_every_tag_is_the_bundle_image():
    assert images_to_load(_tarballs(), parse_image_inspect('sha256:%s ["example/web:1"]\nsha256:%s ["example/db:1"]' % (NEW, OLD))) == []


def test_inspect_errors_other_than_missing_images_are_told_apart():
    assert only_missing_images("Error: No such image: example/db:1\nError: No such image: x:2\n")
    assert not only_missing_images("Cannot connect to the Docker daemon at unix:///var/run/docker.sock\n")
    assert not only_missing_images("Error: No such image: x:1\npermission denied\n")
    assert not only_missing_images("")


def test_unreadable_inspect_output_is_refused():
    with pytest.raises(ComposeError, match="docker image inspect"):
        parse_image_inspect("sha256:%s [not json" % NEW)


def health(stdout, release_dir=""):
    """project_health as compose_status calls it: ps output, then the job's results file after JOB_MARK."""
    job = None
    if "\n#compose-up-job\n" in stdout or stdout.startswith("\n#compose-up-job\n"):
        stdout, dummy, job_text = stdout.partition("\n#compose-up-job\n")
        job = job_state(job_text)
    return project_health(ps_entries(stdout), job, release_dir if job is not None else "")


def _ps(*entries, lines=True):
    objs = [dict({"Name": "p-%s-1" % e[0], "Service": e[0], "State": e[1], "Health": e[2], "ExitCode": e[3], "Status": e[4]}) for e in entries]
    return "\n".join(json.dumps(o) for o in objs) if lines else json.dumps(objs)


def test_health_names_the_service_that_exited_not_the_one_waiting_for_it():
    out = health(_ps(("db", "exited", "", 3, "Exited (3) 1 second ago"), ("app", "created", "", 0, "Created")))
    assert out["verdict"] == "failed"
    assert out["failing"] == ["db"]
    assert out["waiting"] == ["app"]
    assert out["summary"] == "db exited with code 3 (Exited (3) 1 second ago); app not ready: created"


def test_health_fails_fast_on_a_crash_loop_and_on_unhealthy():
    # Compose's ps gives ExitCode 0 for a restarting container: the code comes from Status.
    out = health(_ps(("web", "restarting", "", 0, "Restarting (1) 1 second ago"),
                 ("db", "running", "unhealthy", 0, "Up 9 seconds (unhealthy)"), lines=False))
    assert out["verdict"] == "failed"
    assert out["failing"] == ["db", "web"]
    assert "web keeps restarting (last exit code 1)" in out["summary"]
    assert "db is unhealthy" in out["summary"]


def test_health_waits_for_starting_health_checks():
    out = health(_ps(("db", "running", "healthy", 0, "Up"), ("web", "running", "starting", 0, "Up 1 second (health: starting)")))
    assert out["verdict"] == "waiting"
    assert out["summary"] == "web not ready: running, health starting"


def test_health_accepts_running_services_and_one_shots_that_exited_zero():
    out = health(_ps(("db", "running", "healthy", 0, "Up"), ("web", "running", "", 0, "Up"),
                 ("migrate", "exited", "", 0, "Exited (0)")))
    assert out["verdict"] == "healthy"
    assert out["failing"] == []


def test_health_without_containers_is_not_healthy():
    out = health("")
    assert out["verdict"] == "waiting"
    assert out["summary"] == "no container was created"


def _with_job(ps, job):
    return ps + "\n#compose-up-job\n" + json.dumps(job)


def test_health_waits_for_compose_up_to_finish():
    ps = _ps(("web", "running", "healthy", 0, "Up"))
    assert health(_with_job(ps, {"started": 1, "finished": 0, "ansible_job_id": "1"}))["verdict"] == "waiting"
    assert health(_with_job(ps, {"changed": True, "rc": 0}))["verdict"] == "healthy"


def test_health_fails_at_once_when_compose_up_failed_without_containers():
    out = health(_with_job("", {"failed": True, "rc": 1, "msg": "Error response from daemon:\n No such image: x/y:1"}))
    assert out["verdict"] == "failed"
    assert out["summary"] == "no container was created"
    assert out["compose_error"] == "Error response from daemon: No such image: x/y:1"


def test_health_ignores_the_previous_release_while_compose_up_runs():
    old = {"Service": "web", "Name": "p-web-1", "State": "running", "Health": "unhealthy", "ExitCode": 0, "Status": "Up (unhealthy)",
           "Labels": "com.docker.compose.project=p,com.docker.compose.project.working_dir=/b/p/1.0.0"}
    new = {"Service": "store", "Name": "p-store-1", "State": "running", "Health": "starting", "ExitCode": 0, "Status": "Up",
           "Labels": "com.docker.compose.project.working_dir=/b/p/2.0.0,com.docker.compose.project=p"}
    ps = "\n".join(json.dumps(e) for e in (old, new))
    running = _with_job(ps, {"started": 1, "finished": 0})
    # The old web turns unhealthy while its store is replaced: not a failure of 2.0.0 ...
    assert health(running, "/b/p/2.0.0")["verdict"] == "waiting"
    # ... but it counts without the release directory, and once compose up has finished.
    assert health(running)["failing"] == ["web"]
    assert health(_with_job(ps, {"rc": 0}), "/b/p/2.0.0")["failing"] == ["web"]


# --- the platform of an image tarball (issue 18) ---------------------------------------------


def _config(arch, variant=None):
    config = {"architecture": arch, "os": "linux"}
    if variant:
        config["variant"] = variant
    return json.dumps(config).encode()


@pytest.mark.parametrize("arch, variant, debian", [
    ("amd64", None, "amd64"), ("arm64", "v8", "arm64"), ("arm", "v7", "armhf"), ("arm", None, "armhf"),
    ("arm", "v6", "armel"), ("386", None, "i386"), ("riscv64", None, "riscv64")])
def test_image_architecture_in_debians_names(arch, variant, debian):
    assert image_architecture(json.loads(_config(arch, variant))) == debian


def test_image_architecture_is_none_without_one():
    assert image_architecture({}) is None
    assert image_architecture(None) is None
    assert image_architecture({"architecture": ""}) is None


def test_release_tarballs_read_the_platform_from_the_image_config_in_both_layouts(tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    # Docker 25+ (OCI layout): the config is blobs/sha256/<id>; before: <id>.json.
    save(images / "web-arm64.tar", [{"Config": "blobs/sha256/" + OLD, "RepoTags": ["example/web:1"]}],
         extra={"blobs/sha256/" + OLD: _config("arm64", "v8")})
    save(images / "web.tar", [{"Config": NEW + ".json", "RepoTags": ["example/web:1"]}], extra={NEW + ".json": _config("amd64")})
    out = release_tarballs(str(tmp_path))
    assert [(os.path.basename(t["path"]), [i["architecture"] for i in t["images"]]) for t in out] == [
        ("web-arm64.tar", ["arm64"]), ("web.tar", ["amd64"])]


def test_an_oversized_image_config_is_refused(tmp_path):
    (tmp_path / "images").mkdir()
    save(tmp_path / "images" / "a.tar", [{"Config": OLD + ".json", "RepoTags": ["example/a:1"]}],
         extra={OLD + ".json": b" " * (1024 * 1024 + 1)})
    with pytest.raises(ComposeError, match="the image config %s.json is not a regular member" % OLD):
        release_tarballs(str(tmp_path))


def _platform_tarball(name, *archs):
    return {"path": "/rel/images/" + name, "tags": ["example/web:1"],
            "images": [{"id": "sha256:" + NEW, "tags": ["example/web:1"], "architecture": arch} for arch in archs]}


def test_select_platform_keeps_the_hosts_tarballs_and_sets_the_others_apart():
    amd64, arm64, neutral = _platform_tarball("amd64.tar", "amd64"), _platform_tarball("arm64.tar", "arm64"), _platform_tarball("n.tar", None)
    for_host, other = select_platform([amd64, arm64, neutral], "amd64")
    assert for_host == [amd64, neutral]
    assert other == [dict(arm64, architecture="arm64")]
    for_host, other = select_platform([amd64, arm64, neutral], "arm64")
    assert for_host == [arm64, neutral]
    assert [t["path"] for t in other] == ["/rel/images/amd64.tar"]


def test_select_platform_refuses_a_tarball_with_two_platforms():
    with pytest.raises(ComposeError, match="mixed.tar holds images for amd64 and arm64; save one platform"):
        select_platform([_platform_tarball("mixed.tar", "arm64", "amd64", None)], "amd64")
    assert tarball_architecture(_platform_tarball("one.tar", "arm64", None, "arm64")) == "arm64"


@pytest.mark.parametrize("labels", [
    "com.docker.compose.project=p,com.docker.compose.project.working_dir=/opt/b/p/1.0.0,com.docker.compose.service=web",
    {"com.docker.compose.project.working_dir": "/opt/b/p/1.0.0"}])
def test_services_carry_the_release_directory_they_were_made_for(labels):
    entry = {"Service": "web", "State": "running", "Health": "", "Labels": labels}
    assert working_dir_of(entry) == "/opt/b/p/1.0.0"
    assert project_health([entry])["services"][0]["release_dir"] == "/opt/b/p/1.0.0"
    assert working_dir_of({"Service": "web", "Labels": "com.docker.compose.project=p"}) == ""
