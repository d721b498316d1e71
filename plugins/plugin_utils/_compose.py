# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Compose conventions shared by the compose_app filters (deploy time) and bundle_build's
action plugin (build time): the compose file names, image references, the image IDs of
``docker save`` tarballs, and the checks of a compose component's source directory."""

from __future__ import annotations

import json
import os
import re
import tarfile

# Compose's own file names, in its order of preference (compose-go's DefaultFileNames).
COMPOSE_FILE_NAMES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")

_DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}$")


class ComposeError(ValueError):
    """A compose project or image tarball the role cannot use."""


def image_id_of(manifest_entry, tarball="the tarball"):
    """The image ID (``sha256:<hex>``) of one entry of a ``docker save`` manifest.json.

    The image ID is the digest of the image's config: ``Config`` names it as
    ``<hex>.json`` (Docker before 25) or ``blobs/sha256/<hex>`` (OCI layout, Docker 25+).
    """
    config = manifest_entry.get("Config") if isinstance(manifest_entry, dict) else None
    if not isinstance(config, str):
        raise ComposeError("%s: manifest.json has an entry without Config" % tarball)
    name = config.rsplit("/", 1)[-1]
    if name.endswith(".json"):
        name = name[:-len(".json")]
    digest = "sha256:" + name
    if not _DIGEST_RE.match(digest):
        raise ComposeError("%s: Config %r in manifest.json is not a sha256 config digest" % (tarball, config))
    return digest


def split_reference(image):
    """``name[:tag][@sha256:...]`` -> (``name:tag``, digest or ''); a name without tag or digest
    gets ``:latest`` as Docker gives it."""
    ref, dummy, digest = image.partition("@")
    if ":" not in ref.rsplit("/", 1)[-1] and not digest:
        ref += ":latest"
    return ref, digest


def tarball_images(path):
    """[{id, tags}] of the images in one ``docker save`` tarball (read on the build host)."""
    try:
        with tarfile.open(path) as archive:
            member = archive.extractfile("manifest.json")
            entries = json.loads(member.read().decode("utf-8")) if member else None
    except (KeyError, OSError, ValueError, tarfile.TarError) as exc:
        raise ComposeError("%s: cannot read manifest.json (%s); save images with docker save" % (path, exc))
    if not isinstance(entries, list) or not entries:
        raise ComposeError("%s: manifest.json lists no image" % path)
    return [{"id": image_id_of(e, path), "tags": [t for t in (e.get("RepoTags") or []) if t]} for e in entries]


def find_compose_file(directory):
    """The compose file Compose would pick in ``directory``, or None."""
    for name in COMPOSE_FILE_NAMES:
        path = os.path.join(directory, name)
        if os.path.isfile(path) and not os.path.islink(path):
            return name
    return None


def _env_files(spec):
    value = spec.get("env_file")
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items:
        if isinstance(item, dict):
            out.append((item.get("path"), item.get("required", True)))
        else:
            out.append((item, True))
    return out


def check_compose_source(src, load_yaml):
    """Problems that would make a compose component fail at deploy time, found at build time.

    ``src`` is the component's source directory; ``load_yaml`` parses the compose file's text.
    Checks: a compose file Compose accepts is there; every service's ``env_file`` is a relative
    path inside the project directory and exists (unless ``required: false``); every image a
    service names is in one of the tarballs ``images/*.tar`` (by tag, or by image ID when pinned
    by digest only), since hosts never pull.
    """
    name = find_compose_file(src)
    if name is None:
        return ["%s has no compose file (Compose looks for %s)" % (src, ", ".join(COMPOSE_FILE_NAMES))]
    path = os.path.join(src, name)
    try:
        with open(path, "r") as handle:
            document = load_yaml(handle.read())
    except Exception as exc:  # pylint: disable=broad-except
        return ["%s is not valid YAML: %s" % (path, exc)]
    if not isinstance(document, dict) or not isinstance(document.get("services"), dict):
        return ["%s has no services" % path]
    problems = []
    root = os.path.realpath(src)
    by_tag, by_id = set(), set()
    images_dir = os.path.join(src, "images")
    if os.path.isdir(images_dir):
        for entry in sorted(os.listdir(images_dir)):
            if entry.endswith(".tar"):
                try:
                    for image in tarball_images(os.path.join(images_dir, entry)):
                        by_tag.update(image["tags"])
                        by_id.add(image["id"])
                except ComposeError as exc:
                    problems.append(str(exc))
    for service, spec in sorted(document["services"].items()):
        if not isinstance(spec, dict):
            continue
        for env_file, required in _env_files(spec):
            if not isinstance(env_file, str) or "$" in env_file:
                continue
            if os.path.isabs(env_file):
                problems.append("service %s: env_file %s is an absolute path; the bundle carries only the project "
                                "directory, use a path relative to it" % (service, env_file))
                continue
            target = os.path.realpath(os.path.join(src, env_file))
            if target != root and not target.startswith(root + os.sep):
                problems.append("service %s: env_file %s is outside the project directory" % (service, env_file))
            elif required and not os.path.isfile(target):
                problems.append("service %s: env_file %s does not exist in the project directory" % (service, env_file))
        image = spec.get("image")
        if not isinstance(image, str) or "$" in image:
            continue
        ref, digest = split_reference(image)
        has_tag = ":" in ref.rsplit("/", 1)[-1]
        if not ((has_tag and ref in by_tag) or (digest and digest in by_id)):
            problems.append("service %s: image %s is in no tarball of images/ (hosts never pull; "
                            "docker save it into images/)" % (service, image))
    return problems
