# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""groundwork.infra.compose_release_info on a real release directory, run in-process as Ansible
runs it. The Docker Engine is not needed: engine=false reads only the release, and the engine's
answer is given to engine_images() as a stand-in for `docker image inspect` (its real output format)."""

from __future__ import annotations

import io
import json
import os
import tarfile

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.groundwork.infra.plugins.module_utils._compose import ComposeError
from ansible_collections.groundwork.infra.plugins.modules import compose_release_info

NEW = "b" * 64


def save(path, tags, image_id=NEW, arch="amd64"):
    """A tarball laid out as docker save (Docker 25+) writes it: the image config, then manifest.json."""
    config = json.dumps({"architecture": arch, "os": "linux"}).encode()
    data = json.dumps([{"Config": "blobs/sha256/" + image_id, "RepoTags": tags, "Layers": []}]).encode()
    with tarfile.open(str(path), "w") as archive:
        for name, content in (("blobs/sha256/" + image_id, config), ("manifest.json", data)):
            info = tarfile.TarInfo(name)
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))


@pytest.fixture
def release(tmp_path):
    rel = tmp_path / "hello" / "2.0.0"
    (rel / "images").mkdir(parents=True)
    (rel / "docker-compose.yml").write_text("services:\n  web:\n    image: example/web:2\n")
    save(rel / "images" / "web.tar", ["example/web:2"])
    return rel


def run(capsys, args):
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            compose_release_info.main()
    return json.loads(capsys.readouterr().out)


def test_reads_the_compose_file_and_the_tarballs_in_one_call(capsys, release):
    out = run(capsys, {"path": str(release), "engine": False, "architecture": "amd64"})
    assert out["changed"] is False and "failed" not in out
    assert out["compose_file"] == "docker-compose.yml"
    assert out["compose_content"] == "services:\n  web:\n    image: example/web:2\n"
    assert out["tarballs"] == [{"path": str(release / "images" / "web.tar"), "tags": ["example/web:2"],
                                "images": [{"id": "sha256:" + NEW, "tags": ["example/web:2"], "architecture": "amd64"}]}]
    assert out["to_load"] == [] and out["other_platforms"] == [] and out["architecture"] == "amd64"


def test_only_the_tarballs_for_the_hosts_platform_are_compared_and_loaded(capsys, release, monkeypatch):
    # The same tag saved for arm64 beside the amd64 one: an amd64 host loads the amd64 tarball only.
    save(release / "images" / "web-arm64.tar", ["example/web:2"], image_id="c" * 64, arch="arm64")
    asked = []

    def engine(run_command, tags):  # stand-in for `docker image inspect`: the engine has no image
        asked.append(list(tags))
        return {}
    monkeypatch.setattr(compose_release_info, "engine_images", engine)
    out = run(capsys, {"path": str(release), "architecture": "amd64"})
    assert [os.path.basename(t["path"]) for t in out["to_load"]] == ["web.tar"]
    assert [os.path.basename(t["path"]) for t in out["tarballs"]] == ["web.tar"]
    assert [(os.path.basename(t["path"]), t["architecture"]) for t in out["other_platforms"]] == [("web-arm64.tar", "arm64")]
    out = run(capsys, {"path": str(release), "architecture": "arm64"})
    assert [os.path.basename(t["path"]) for t in out["to_load"]] == ["web-arm64.tar"]
    assert out["to_load"][0]["images"][0]["id"] == "sha256:" + "c" * 64


def test_the_host_architecture_is_the_default(capsys, release, monkeypatch):
    monkeypatch.setattr(compose_release_info, "host_platform", lambda: {"architecture": "arm64"})
    save(release / "images" / "web.tar", ["example/web:2"], arch="arm64")
    out = run(capsys, {"path": str(release), "engine": False})
    assert out["architecture"] == "arm64" and len(out["tarballs"]) == 1 and out["other_platforms"] == []


def test_compose_yaml_wins_over_docker_compose_yml(capsys, release):
    (release / "compose.yaml").write_text("services: {}\n")
    assert run(capsys, {"path": str(release), "engine": False})["compose_file"] == "compose.yaml"


def test_a_release_without_compose_file_fails_naming_the_names(capsys, release):
    os.remove(str(release / "docker-compose.yml"))
    out = run(capsys, {"path": str(release), "engine": False})
    assert out["failed"] is True
    assert out["msg"] == ("compose_release_info: %s has no compose file (looked for compose.yaml, "
                          "compose.yml, docker-compose.yaml, docker-compose.yml)" % release)


def test_a_missing_release_directory_fails(capsys, tmp_path):
    out = run(capsys, {"path": str(tmp_path / "nope"), "engine": False})
    assert out["failed"] is True and "is not a directory" in out["msg"]


def test_a_compose_file_that_is_not_utf8_fails(capsys, release):
    (release / "docker-compose.yml").write_bytes(b"services: {}\n# \xff\n")
    out = run(capsys, {"path": str(release), "engine": False})
    assert out["failed"] is True and "is not UTF-8 text" in out["msg"]


def test_engine_images_asks_for_the_tags_and_accepts_missing_ones():
    calls = []

    def docker(argv):  # stand-in for `docker image inspect`: one image present, one missing
        calls.append(argv)
        return 1, 'sha256:%s ["example/web:2"]\n' % NEW, "Error: No such image: example/db:1\n"
    assert compose_release_info.engine_images(docker, ["example/db:1", "example/web:2"]) == {"example/web:2": "sha256:" + NEW}
    assert calls == [["docker", "image", "inspect", "--format", "{{.Id}} {{json .RepoTags}}", "--", "example/db:1", "example/web:2"]]


def test_engine_images_fails_when_the_engine_does_not_answer():
    def docker(argv):
        return 1, "", "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?\n"
    with pytest.raises(ComposeError, match="docker image inspect failed .*Cannot connect"):
        compose_release_info.engine_images(docker, ["example/web:2"])


def test_engine_images_asks_nothing_without_tags():
    assert compose_release_info.engine_images(lambda argv: pytest.fail("docker was run"), []) == {}
