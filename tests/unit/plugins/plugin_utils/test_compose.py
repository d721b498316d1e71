# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""bundle_build's build-time checks of compose components: what would fail at deploy time."""

from __future__ import annotations

import io
import json
import tarfile

import pytest
import yaml

from ansible_collections.groundwork.infra.plugins.plugin_utils._compose import (
    check_compose_source,
    find_compose_file,
    tarball_images,
)

IMAGE_ID = "sha256:" + "d" * 64


def _save(path, tags, config="blobs/sha256/" + "d" * 64, arch=None):
    """A tarball with the manifest.json of docker save (the layers do not matter here) and, with
    ``arch``, the image config naming its platform."""
    members = [("manifest.json", json.dumps([{"Config": config, "RepoTags": tags, "Layers": []}]).encode())]
    if arch:
        members.insert(0, (config, json.dumps({"architecture": arch, "os": "linux"}).encode()))
    with tarfile.open(str(path), "w") as archive:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))


def _project(tmp_path, compose, name="docker-compose.yml", files=None, tags=("example/web:1",)):
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / name).write_text(compose)
    (tmp_path / "images").mkdir()
    _save(tmp_path / "images" / "web.tar", list(tags))
    for rel, text in (files or {}).items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    return str(tmp_path)


def _check(src):
    return check_compose_source(src, yaml.safe_load)


def test_compose_order_of_preference(tmp_path):
    for name in ("docker-compose.yml", "docker-compose.yaml", "compose.yml", "compose.yaml"):
        (tmp_path / name).write_text("services: {}\n")
        assert find_compose_file(str(tmp_path)) == name


def test_upstream_style_project_passes(tmp_path):
    src = _project(tmp_path, (
        "services:\n"
        "  web:\n    image: example/web:1@sha256:%s\n    env_file: ./config/web.env\n"
        "  db:\n    image: example/db@%s\n    env_file:\n      - path: db.env\n        required: false\n" % ("e" * 64, IMAGE_ID)),
        files={"config/web.env": "A=1\n"})
    assert _check(src) == []


def test_missing_compose_file(tmp_path):
    assert _check(str(tmp_path)) == ["%s has no compose file (Compose looks for compose.yaml, compose.yml, "
                                     "docker-compose.yaml, docker-compose.yml)" % tmp_path]


def test_env_file_outside_absolute_or_missing(tmp_path):
    (tmp_path / "outside.env").write_text("A=1\n")
    src = _project(tmp_path / "p", (
        "services:\n  web:\n    image: example/web:1\n"
        "    env_file: [../outside.env, /etc/app.env, missing.env]\n"))
    assert _check(src) == [
        "service web: env_file ../outside.env is outside the project directory",
        "service web: env_file /etc/app.env is an absolute path; the bundle carries only the project directory, use a path relative to it",
        "service web: env_file missing.env does not exist in the project directory",
    ]


def test_image_not_in_the_bundle(tmp_path):
    src = _project(tmp_path, "services:\n  web:\n    image: example/web:2\n  db:\n    image: example/db@sha256:%s\n" % ("f" * 64))
    assert _check(src) == [
        "service db: image example/db@sha256:%s is in no tarball of images/ (hosts never pull; docker save it into images/)" % ("f" * 64),
        "service web: image example/web:2 is in no tarball of images/ (hosts never pull; docker save it into images/)",
    ]


def test_tarball_images_reads_both_layouts(tmp_path):
    _save(tmp_path / "old.tar", ["a/b:1"], config="d" * 64 + ".json")
    assert tarball_images(str(tmp_path / "old.tar")) == [{"id": IMAGE_ID, "tags": ["a/b:1"], "architecture": None}]
    _save(tmp_path / "arm.tar", ["a/b:1"], config="d" * 64 + ".json", arch="arm")
    assert tarball_images(str(tmp_path / "arm.tar")) == [{"id": IMAGE_ID, "tags": ["a/b:1"], "architecture": "armhf"}]


def test_a_tarball_that_is_not_a_docker_save(tmp_path):
    src = _project(tmp_path, "services: {}\n")
    (tmp_path / "images" / "bad.tar").write_text("not a tar")
    problems = _check(src)
    assert len(problems) == 1 and "bad.tar: cannot read manifest.json" in problems[0]


@pytest.mark.parametrize("text", ["services: [\n", "just text\n"])
def test_invalid_compose_file(tmp_path, text):
    (tmp_path / "compose.yaml").write_text(text)
    assert len(_check(str(tmp_path))) == 1


# --- per-architecture images (issue 18): per_arch.<arch>.src with images/ -----------------------


def _per_arch(tmp_path, archs, compose="services:\n  web:\n    image: example/web:1\n  db:\n    image: example/db:1\n"):
    """A compose project without images/ and one source per architecture with that architecture's images."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "compose.yaml").write_text(compose)
    sources = {}
    for arch, (saved_as, tags) in archs.items():
        (tmp_path / arch / "images").mkdir(parents=True)
        _save(tmp_path / arch / "images" / ("all-%s.tar" % arch), list(tags), arch=saved_as)
        sources[arch] = str(tmp_path / arch)
    return str(src), sources


def test_per_arch_images_pass_when_every_architecture_has_every_image(tmp_path):
    src, sources = _per_arch(tmp_path, {"amd64": ("amd64", ["example/web:1", "example/db:1"]),
                                        "arm64": ("arm64", ["example/web:1", "example/db:1"])})
    assert check_compose_source(src, yaml.safe_load, sources) == []
    # Without per_arch the same project lacks its images: the check reads the per-arch sources.
    assert len(check_compose_source(src, yaml.safe_load)) == 2


def test_per_arch_image_missing_for_one_architecture(tmp_path):
    src, sources = _per_arch(tmp_path, {"amd64": ("amd64", ["example/web:1", "example/db:1"]),
                                        "arm64": ("arm64", ["example/web:1"])})
    assert check_compose_source(src, yaml.safe_load, sources) == [
        "service db: image example/db:1 is in no tarball of images/ for arm64 (hosts never pull; "
        "docker save it into per_arch.arm64.src's images/)"]


def test_per_arch_tarball_of_another_platform_is_refused(tmp_path):
    src, sources = _per_arch(tmp_path, {"amd64": ("amd64", ["example/web:1", "example/db:1"]),
                                        "arm64": ("amd64", ["example/web:1", "example/db:1"])})
    assert check_compose_source(src, yaml.safe_load, sources) == [
        "per_arch.arm64: %s/arm64/images/all-arm64.tar holds images for amd64" % tmp_path]


def test_images_both_in_src_and_per_arch_is_refused(tmp_path):
    src, sources = _per_arch(tmp_path, {"amd64": ("amd64", ["example/web:1", "example/db:1"])})
    (tmp_path / "src" / "images").mkdir()
    problems = check_compose_source(src, yaml.safe_load, sources)
    assert problems == ["images/ is both in src and in per_arch.amd64.src (%s/amd64); a host would get two images/ "
                        "directories: put every image in the per-architecture sources" % tmp_path]
