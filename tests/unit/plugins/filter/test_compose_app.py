# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The compose_app role's controller-side decisions: the plan of a release from what
compose_release_info read (digest-pinned references to rewrite), and the .env and
compose.groundwork.yaml it writes."""

from __future__ import annotations

import pytest
import yaml

from ansible.errors import AnsibleFilterError

from ansible_collections.groundwork.infra.plugins.filter.compose_app import (
    compose_app_dotenv,
    compose_app_overlay,
    compose_app_project,
    compose_app_runs,
)

OLD = "a" * 64
NEW = "b" * 64


def _tarball(path, image_id, tags, arch=None):
    return {"path": path, "tags": list(tags), "images": [{"id": "sha256:" + image_id, "tags": list(tags), "architecture": arch}]}


def _release(compose, *tarballs, name="compose.yaml", to_load=(), other=()):
    """A compose_release_info result."""
    return {"compose_file": name, "compose_content": compose, "tarballs": list(tarballs), "to_load": list(to_load),
            "architecture": "amd64", "other_platforms": [dict(t, architecture=t["images"][0]["architecture"]) for t in other]}


def test_project_refuses_a_service_whose_image_is_only_for_other_platforms():
    compose = "services:\n  web:\n    image: example/web:1\n  db:\n    image: example/db@sha256:%s\n" % OLD
    web_arm = _tarball("/rel/images/web-arm64.tar", NEW, ["example/web:1"], "arm64")
    db_arm = _tarball("/rel/images/db-arm64.tar", OLD, ["example/db:1"], "arm64")
    db_amd = _tarball("/rel/images/db.tar", "c" * 64, ["example/db:1"], "amd64")
    with pytest.raises(AnsibleFilterError) as failure:
        compose_app_project(_release(compose, db_amd, other=[web_arm, db_arm]), "/rel")
    # db is pinned to the arm64 image's ID: the amd64 tarball of the same tag is another image.
    assert str(failure.value) == (
        "compose_app: release /rel has no image for this host's platform (amd64) for "
        "service db: example/db@sha256:%s is only in /rel/images/db-arm64.tar (arm64); "
        "service web: example/web:1 is only in /rel/images/web-arm64.tar (arm64)" % OLD)


def test_project_accepts_images_for_the_host_beside_other_platforms():
    compose = "services:\n  web:\n    image: example/web:1\n"
    web_amd = _tarball("/rel/images/web.tar", "c" * 64, ["example/web:1"], "amd64")
    web_arm = _tarball("/rel/images/web-arm64.tar", NEW, ["example/web:1"], "arm64")
    plan = compose_app_project(_release(compose, web_amd, other=[web_arm]), "/rel")
    assert [t["path"] for t in plan["tarballs"]] == ["/rel/images/web.tar"]


@pytest.mark.parametrize("name", ["compose.yaml", "docker-compose.yml"])
def test_project_takes_the_compose_file_the_module_found(name):
    plan = compose_app_project(_release("services:\n  web:\n    image: a/b:1\n", name=name), "/rel")
    assert plan["compose_file"] == name
    assert plan["images"] == {"web": "a/b:1"}
    assert plan["overrides"] == {}


def test_project_keeps_the_tarballs_to_load():
    web = _tarball("/rel/images/web.tar", NEW, ["example/web:1"])
    plan = compose_app_project(_release("services: {}\n", web, to_load=[dict(web, reasons=["example/web:1 missing"])]))
    assert [t["path"] for t in plan["to_load"]] == ["/rel/images/web.tar"]


def test_project_without_a_compose_file_names_the_release():
    with pytest.raises(AnsibleFilterError, match="no compose file was read for release /rel"):
        compose_app_project({"compose_file": None, "tarballs": []}, "/rel")


def test_project_with_invalid_yaml_names_the_file_and_release():
    with pytest.raises(AnsibleFilterError, match="compose.yaml of /rel is not valid YAML"):
        compose_app_project(_release("services: [\n"), "/rel")


def test_digest_pinned_images_run_the_bundle_image_by_tag():
    compose = (
        "services:\n"
        "  web:\n    image: example/web:2.1@sha256:%s\n"
        "  db:\n    image: example/db@sha256:%s\n"
        "  cache:\n    image: example/cache:7\n"
        "  other:\n    image: example/other:1@sha256:%s\n" % (NEW, OLD, "c" * 64)
    )
    plan = compose_app_project(_release(compose, _tarball("/rel/images/web.tar", NEW, ["example/web:2.1"]),
                                        _tarball("/rel/images/db.tar", OLD, ["example/db:16"]), name="docker-compose.yml"), "/rel")
    # web by its tag, db (pinned by digest only) by the tag of the tarball whose image ID is
    # the digest; cache is not pinned; other is in no tarball, so Compose gets it as written.
    assert plan["overrides"] == {"web": "example/web:2.1", "db": "example/db:16"}


def test_interpolated_image_names_are_left_to_compose():
    plan = compose_app_project(_release("services:\n  web:\n    image: ${IMAGE}@sha256:%s\n" % NEW,
                                        _tarball("/r/i.tar", NEW, ["x/y:1"])))
    assert plan["overrides"] == {}


def test_dotenv_sorts_ignoring_case_and_quotes_every_value():
    text = compose_app_dotenv({"B": 1, "a": True, "c": 'say "hi"\n', "é": "ü"})
    assert text == ('# Managed by groundwork.infra.compose_app\n'
                    'a="True"\nB="1"\nc="say \\"hi\\"\\n"\né="\\u00fc"\n')


def test_dotenv_without_variables_is_the_comment_only():
    assert compose_app_dotenv({}) == "# Managed by groundwork.infra.compose_app\n"


def test_overlay_declares_secrets_and_pinned_images_as_yaml():
    plan = {"compose_file": "compose.yaml", "overrides": {"web": "example/web:2", "Db": "example/db:16"}}
    text = compose_app_overlay({"token": "s3cret", "Alpha": "x"}, plan, "/opt/b/p/2.0.0", "/etc/g/p/2.0.0")
    assert text.startswith("# Managed by groundwork.infra.compose_app")
    assert "# /opt/b/p/2.0.0/compose.yaml with --file.\n" in text
    assert "s3cret" not in text
    assert yaml.safe_load(text) == {
        "services": {"web": {"image": "example/web:2"}, "Db": {"image": "example/db:16"}},
        "secrets": {"Alpha": {"file": "/etc/g/p/2.0.0/secrets/Alpha"}, "token": {"file": "/etc/g/p/2.0.0/secrets/token"}},
    }
    # Sorted ignoring case, as the template it replaces did (same bytes, same SHA-1 on the hosts).
    assert text.index("Alpha:") < text.index("token:") and text.index('"Db"') < text.index('"web"')


def test_overlay_without_secrets_or_pins_is_an_empty_mapping():
    text = compose_app_overlay({}, {"compose_file": "compose.yaml", "overrides": {}}, "/r", "/c")
    assert yaml.safe_load(text) == {}
    assert text.endswith("\n{}\n")


# --- whether a re-run that changed nothing can skip docker compose up ------------------------

REL = "/opt/groundwork/bundles/p/1.0.0"


def _status(*containers, verdict="healthy"):
    """A compose_status result: (service, state, health, release_dir) per container."""
    return {"verdict": verdict, "services": [{"service": c[0], "state": c[1], "health": c[2], "release_dir": c[3]} for c in containers]}


def _plan(*services):
    return {"images": dict((name, "example/%s:1" % name) for name in services)}


def test_runs_when_every_service_runs_this_release_healthy():
    status = _status(("web", "running", "healthy", REL), ("db", "running", "", REL), ("db", "running", "", REL))
    assert compose_app_runs(status, _plan("web", "db"), REL) is True


@pytest.mark.parametrize("status", [
    _status(("web", "running", "healthy", REL), verdict="waiting"),               # the verdict is not healthy
    _status(("web", "running", "healthy", REL)),                                   # db has no container
    _status(("web", "running", "healthy", REL), ("db", "exited", "", REL)),        # db was stopped (or is a one-shot)
    _status(("web", "running", "starting", REL), ("db", "running", "", REL)),      # web's health check has not passed yet
    _status(("web", "running", "healthy", REL), ("db", "running", "", "/opt/groundwork/bundles/p/0.9.0")),  # another release
    {"skipped": True},                                                             # compose_status did not run
])
def test_up_runs_at_any_doubt(status):
    assert compose_app_runs(status, _plan("web", "db"), REL) is False


def test_a_project_without_services_always_runs_up():
    assert compose_app_runs(_status(("web", "running", "", REL)), _plan(), REL) is False
