# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The compose_app role's decisions: which compose file, which tarballs to load (by image ID),
which digest-pinned references to rewrite, and whether a project came up or which service failed."""

from __future__ import annotations

import base64
import json

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.groundwork.infra.plugins.filter.compose_app import (
    compose_app_health,
    compose_app_images_to_load,
    compose_app_project,
)
from ansible_collections.groundwork.infra.plugins.plugin_utils._compose import ComposeError, image_id_of

OLD = "a" * 64
NEW = "b" * 64


def _file_line(name, text):
    return "file\t%s\t%s" % (name, base64.b64encode(text.encode()).decode())


def _image_line(path, entries):
    return "image\t%s\t%s" % (path, json.dumps(entries))


def test_image_id_is_the_config_digest_in_both_layouts():
    assert image_id_of({"Config": "blobs/sha256/" + NEW}) == "sha256:" + NEW  # Docker 25+ (OCI layout)
    assert image_id_of({"Config": OLD + ".json"}) == "sha256:" + OLD  # older docker save


def test_image_id_refuses_a_config_that_is_not_a_digest():
    with pytest.raises(ComposeError, match="not a sha256 config digest"):
        image_id_of({"Config": "config.json"}, "x.tar")


@pytest.mark.parametrize("name", ["compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml"])
def test_project_takes_the_compose_file_the_reader_found(name):
    plan = compose_app_project([_file_line(name, "services:\n  web:\n    image: a/b:1\n")], "/rel")
    assert plan["compose_file"] == name
    assert plan["images"] == {"web": "a/b:1"}
    assert plan["overrides"] == {}


def test_project_without_a_compose_file_names_the_names_looked_for():
    with pytest.raises(AnsibleFilterError, match="no compose file .*compose.yaml, compose.yml, docker-compose.yaml, docker-compose.yml"):
        compose_app_project([_image_line("/rel/images/a.tar", [{"Config": OLD + ".json", "RepoTags": ["a/b:1"]}])], "/rel")


def test_untagged_tarball_is_refused():
    with pytest.raises(AnsibleFilterError, match="holds no tagged image"):
        compose_app_project([_file_line("compose.yaml", "services: {}\n"),
                             _image_line("/rel/images/a.tar", [{"Config": OLD + ".json", "RepoTags": None}])])


def test_digest_pinned_images_run_the_bundle_image_by_tag():
    compose = (
        "services:\n"
        "  web:\n    image: example/web:2.1@sha256:%s\n"
        "  db:\n    image: example/db@sha256:%s\n"
        "  cache:\n    image: example/cache:7\n"
        "  other:\n    image: example/other:1@sha256:%s\n" % (NEW, OLD, "c" * 64)
    )
    plan = compose_app_project([
        _file_line("docker-compose.yml", compose),
        _image_line("/rel/images/web.tar", [{"Config": "blobs/sha256/" + NEW, "RepoTags": ["example/web:2.1"]}]),
        _image_line("/rel/images/db.tar", [{"Config": OLD + ".json", "RepoTags": ["example/db:16"]}]),
    ], "/rel")
    # web by its tag, db (pinned by digest only) by the tag of the tarball whose image ID is
    # the digest; cache is not pinned; other is in no tarball, so Compose gets it as written.
    assert plan["overrides"] == {"web": "example/web:2.1", "db": "example/db:16"}
    assert [t["tags"] for t in plan["tarballs"]] == [["example/web:2.1"], ["example/db:16"]]


def test_interpolated_image_names_are_left_to_compose():
    plan = compose_app_project([_file_line("compose.yaml", "services:\n  web:\n    image: ${IMAGE}@sha256:%s\n" % NEW),
                                _image_line("/r/i.tar", [{"Config": NEW + ".json", "RepoTags": ["x/y:1"]}])])
    assert plan["overrides"] == {}


def _tarballs():
    return compose_app_project([
        _file_line("compose.yaml", "services: {}\n"),
        _image_line("/rel/images/web.tar", [{"Config": "blobs/sha256/" + NEW, "RepoTags": ["example/web:1"]}]),
        _image_line("/rel/images/db.tar", [{"Config": OLD + ".json", "RepoTags": ["example/db:1"]}]),
    ])["tarballs"]


def test_images_to_load_when_a_tag_names_another_image():
    # The engine has both tags, but example/web:1 is an older build than the bundle's.
    inspect = ['sha256:%s ["example/web:1"]' % OLD, 'sha256:%s ["example/db:1","example/db:latest"]' % OLD]
    load = compose_app_images_to_load(_tarballs(), inspect)
    assert [t["path"] for t in load] == ["/rel/images/web.tar"]
    assert "example/web:1 is sha256:aaaaaaaaaaaa" in load[0]["reasons"][0]


def test_images_to_load_when_a_tag_is_missing():
    load = compose_app_images_to_load(_tarballs(), ['sha256:%s ["example/web:1"]' % NEW])
    assert [(t["path"], t["reasons"]) for t in load] == [("/rel/images/db.tar", ["example/db:1 missing"])]


def test_nothing_to_load_when_every_tag_is_the_bundle_image():
    assert compose_app_images_to_load(_tarballs(), ['sha256:%s ["example/web:1"]' % NEW, 'sha256:%s ["example/db:1"]' % OLD]) == []


def _ps(*entries, lines=True):
    objs = [dict({"Name": "p-%s-1" % e[0], "Service": e[0], "State": e[1], "Health": e[2], "ExitCode": e[3], "Status": e[4]}) for e in entries]
    return "\n".join(json.dumps(o) for o in objs) if lines else json.dumps(objs)


def test_health_names_the_service_that_exited_not_the_one_waiting_for_it():
    out = compose_app_health(_ps(("db", "exited", "", 3, "Exited (3) 1 second ago"), ("app", "created", "", 0, "Created")))
    assert out["verdict"] == "failed"
    assert out["failing"] == ["db"]
    assert out["waiting"] == ["app"]
    assert out["summary"] == "db exited with code 3 (Exited (3) 1 second ago); app not ready: created"


def test_health_fails_fast_on_a_crash_loop_and_on_unhealthy():
    # Compose's ps gives ExitCode 0 for a restarting container: the code comes from Status.
    out = compose_app_health(_ps(("web", "restarting", "", 0, "Restarting (1) 1 second ago"),
                                 ("db", "running", "unhealthy", 0, "Up 9 seconds (unhealthy)"), lines=False))
    assert out["verdict"] == "failed"
    assert out["failing"] == ["db", "web"]
    assert "web keeps restarting (last exit code 1)" in out["summary"]
    assert "db is unhealthy" in out["summary"]


def test_health_waits_for_starting_health_checks():
    out = compose_app_health(_ps(("db", "running", "healthy", 0, "Up"), ("web", "running", "starting", 0, "Up 1 second (health: starting)")))
    assert out["verdict"] == "waiting"
    assert out["summary"] == "web not ready: running, health starting"


def test_health_accepts_running_services_and_one_shots_that_exited_zero():
    out = compose_app_health(_ps(("db", "running", "healthy", 0, "Up"), ("web", "running", "", 0, "Up"),
                                 ("migrate", "exited", "", 0, "Exited (0)")))
    assert out["verdict"] == "healthy"
    assert out["failing"] == []


def test_health_without_containers_is_not_healthy():
    out = compose_app_health("")
    assert out["verdict"] == "waiting"
    assert out["summary"] == "no container was created"


def _with_job(ps, job):
    return ps + "\n#compose-up-job\n" + json.dumps(job)


def test_health_waits_for_compose_up_to_finish():
    ps = _ps(("web", "running", "healthy", 0, "Up"))
    assert compose_app_health(_with_job(ps, {"started": 1, "finished": 0, "ansible_job_id": "1"}))["verdict"] == "waiting"
    assert compose_app_health(_with_job(ps, {"changed": True, "rc": 0}))["verdict"] == "healthy"


def test_health_fails_at_once_when_compose_up_failed_without_containers():
    out = compose_app_health(_with_job("", {"failed": True, "rc": 1, "msg": "Error response from daemon:\n No such image: x/y:1"}))
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
    assert compose_app_health(running, "/b/p/2.0.0")["verdict"] == "waiting"
    # ... but it counts without the release directory, and once compose up has finished.
    assert compose_app_health(running)["failing"] == ["web"]
    assert compose_app_health(_with_job(ps, {"rc": 0}), "/b/p/2.0.0")["failing"] == ["web"]
