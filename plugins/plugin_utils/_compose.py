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
