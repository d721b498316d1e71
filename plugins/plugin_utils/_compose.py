# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""bundle_build's build-time check of a compose component's source directory (what would fail at
deploy time). Compose's conventions (file names, image references, ``docker save`` tarballs)
come from module_utils/_compose.py, which the deploy-time modules use too."""

from __future__ import annotations

import os

# Compose's file names and the tarball reading live once, in module_utils: the modules that run
# on the managed host (compose_release_info) use the same code as this build-time check.
from ansible_collections.groundwork.infra.plugins.module_utils._compose import (
    COMPOSE_FILE_NAMES,
    ComposeError,
    find_compose_file,
    split_reference,
    tarball_architecture,
    tarball_images,
)


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


def _read_images(src, problems, arch=None):
    """(tags, image IDs) of the tarballs ``<src>/images/*.tar``; with ``arch`` (a per_arch source),
    a tarball whose images are for another platform is a problem."""
    by_tag, by_id = set(), set()
    images_dir = os.path.join(src, "images")
    if os.path.isdir(images_dir):
        for entry in sorted(os.listdir(images_dir)):
            if entry.endswith(".tar"):
                path = os.path.join(images_dir, entry)
                try:
                    images = tarball_images(path)
                    built_for = tarball_architecture({"path": path, "images": images})
                except ComposeError as exc:
                    problems.append(str(exc))
                    continue
                if arch and built_for and built_for != arch:
                    problems.append("per_arch.%s: %s holds images for %s" % (arch, path, built_for))
                for image in images:
                    by_tag.update(image["tags"])
                    by_id.add(image["id"])
    return by_tag, by_id


def check_compose_source(src, load_yaml, per_arch=None):
    """Problems that would make a compose component fail at deploy time, found at build time.

    ``src`` is the component's source directory; ``load_yaml`` parses the compose file's text;
    ``per_arch``: {architecture: source directory} of the component's per-architecture inputs
    (``per_arch.<arch>.src``), whose ``images/*.tar`` are that architecture's images.
    Checks: a compose file Compose accepts is there; every service's ``env_file`` is a relative
    path inside the project directory and exists (unless ``required: false``); every image a
    service names is in one of the tarballs ``images/*.tar`` (by tag, or by image ID when pinned
    by digest only), since hosts never pull - with per-architecture sources, in ``src`` or in
    every architecture's, whose tarballs must hold images of that architecture; ``images/`` is
    not in both ``src`` and a per-architecture source (a host would get two).
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
    by_tag, by_id = _read_images(src, problems)
    # Each architecture's host gets src's images and its own architecture's.
    platforms = [(None, by_tag, by_id)]
    arch_images = [(arch, path) for arch, path in sorted((per_arch or {}).items())
                   if path and os.path.isdir(os.path.join(path, "images"))]
    for arch, path in arch_images:
        if os.path.isdir(os.path.join(src, "images")):
            problems.append("images/ is both in src and in per_arch.%s.src (%s); a host would get two images/ "
                            "directories: put every image in the per-architecture sources" % (arch, path))
        tags, ids = _read_images(path, problems, arch)
        platforms.append((arch, by_tag | tags, by_id | ids))
    if arch_images:
        platforms = platforms[1:]
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
        for arch, tags, ids in platforms:
            if (has_tag and ref in tags) or (digest and digest in ids):
                continue
            if arch:
                problems.append("service %s: image %s is in no tarball of images/ for %s (hosts never pull; "
                                "docker save it into per_arch.%s.src's images/)" % (service, image, arch, arch))
            else:
                problems.append("service %s: image %s is in no tarball of images/ (hosts never pull; "
                                "docker save it into images/)" % (service, image))
    return problems
