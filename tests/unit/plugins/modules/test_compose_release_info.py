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


def save(path, tags, image_id=NEW):
    data = json.dumps([{"Config": "blobs/sha256/" + image_id, "RepoTags": tags, "Layers": []}]).encode()
    with tarfile.open(str(path), "w") as archive:
        info = tarfile.TarInfo("manifest.json")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))


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
    out = run(capsys, {"path": str(release), "engine": False})
    assert out["changed"] is False and "failed" not in out
    assert out["compose_file"] == "docker-compose.yml"
    assert out["compose_content"] == "services:\n  web:\n    image: example/web:2\n"
    assert out["tarballs"] == [{"path": str(release / "images" / "web.tar"), "tags": ["example/web:2"],
                                "images": [{"id": "sha256:" + NEW, "tags": ["example/web:2"]}]}]
    assert out["to_load"] == []


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
