# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Decisions of the groundwork.infra.compose_app role, kept out of Jinja so that they can be tested.

- ``compose_app_project``: what groundwork.infra.compose_release_info read on the host about one
  release -> the compose file, the tarballs for the host's platform with their tags and image IDs,
  the tarballs to load, and the image references the role must rewrite (digest pins); a service
  whose image the release carries only for other platforms is refused, naming them.
- ``compose_app_runs``: whether a project runs a release already as ``docker compose up`` would
  leave it (a re-run that changed nothing then skips ``up`` and its watch).
- ``compose_app_dotenv``: the ``.env`` file of a release, from the project's ``env``.
- ``compose_app_overlay``: the ``compose.groundwork.yaml`` of a release (the secrets as compose
  secrets and the rewritten image references), added to the release's compose file with --file.

Whether a project came up is decided on the host by groundwork.infra.compose_status
(module_utils/_compose.py).
"""

from __future__ import annotations

import json

from ansible.errors import AnsibleFilterError

from ansible_collections.groundwork.infra.plugins.module_utils._compose import split_reference


def image_overrides(services, tarballs):
    """Service name -> image reference to run instead of a digest-pinned one.

    ``docker load`` records no repository digest, so the engine cannot resolve ``name:tag@sha256:...``
    (and Compose, which never pulls here, fails with "No such image"). A pinned service runs the image
    of the bundle's tarball that carries ``name:tag``, or whose image ID is the pinned digest; the tag
    points at that tarball's image once compose_app_images_to_load has loaded it.
    """
    overrides = {}
    by_tag = {}
    by_id = {}
    for tarball in tarballs:
        for image in tarball["images"]:
            for tag in image["tags"]:
                by_tag.setdefault(tag, image)
            by_id.setdefault(image["id"], image)
    for name in sorted(services):
        image = services[name]
        if not isinstance(image, str) or "@" not in image or "$" in image:
            continue
        ref, digest = split_reference(image)
        if ":" in ref.rsplit("/", 1)[-1] and ref in by_tag:
            overrides[name] = ref
        elif digest in by_id and by_id[digest]["tags"]:
            overrides[name] = by_id[digest]["tags"][0]
    return overrides


def _tags_and_ids(tarballs):
    found = set()
    for tarball in tarballs:
        for image in tarball["images"]:
            found.update(image["tags"])
            found.add(image["id"])
    return found


def other_platform_images(images, tarballs, other_platforms):
    """Service -> (image, [(tarball path, architecture)]) for the services whose image is in no tarball
    for the host's platform but in tarballs for other platforms: started, Compose would fail with
    "No such image" (it never pulls here), or run an image of another platform left on the engine."""
    for_host = _tags_and_ids(tarballs)
    found = {}
    for name in sorted(images):
        image = images[name]
        if not isinstance(image, str) or "$" in image:
            continue
        ref, digest = split_reference(image)
        wanted = set([ref, digest]) - set([""])
        if wanted & for_host:
            continue
        elsewhere = [(t["path"], t.get("architecture") or "another platform") for t in other_platforms
                     if wanted & _tags_and_ids([t])]
        if elsewhere:
            found[name] = (image, elsewhere)
    return found


def compose_app_project(release, release_dir=""):
    """The plan of one release from the result of groundwork.infra.compose_release_info:
    {compose_file, tarballs, to_load, images (service -> image reference), overrides}.

    Fails when a service's image is carried only in tarballs for other platforms than the host's."""
    if not isinstance(release, dict) or not release.get("compose_file"):
        raise AnsibleFilterError("compose_app: no compose file was read for release %s" % (release_dir or "directory"))
    compose_file = release["compose_file"]
    try:
        import yaml  # controller side: ansible-core depends on PyYAML
        document = yaml.safe_load(release.get("compose_content") or "") or {}
    except Exception as exc:  # pylint: disable=broad-except
        raise AnsibleFilterError("compose_app: %s of %s is not valid YAML: %s" % (compose_file, release_dir, exc))
    services = document.get("services") if isinstance(document, dict) else None
    images = {}
    if isinstance(services, dict):
        images = dict((name, (spec or {}).get("image")) for name, spec in services.items() if isinstance(spec, dict))
    tarballs = list(release.get("tarballs") or [])
    missing = other_platform_images(images, tarballs, list(release.get("other_platforms") or []))
    if missing:
        raise AnsibleFilterError("compose_app: release %s has no image for this host's platform (%s) for %s" % (
            release_dir or "directory", release.get("architecture") or "unknown",
            "; ".join("service %s: %s is only in %s" % (name, image, ", ".join("%s (%s)" % (path, arch) for path, arch in where))
                      for name, (image, where) in sorted(missing.items()))))
    return {"compose_file": compose_file, "tarballs": tarballs, "to_load": list(release.get("to_load") or []),
            "images": images, "overrides": image_overrides(images, tarballs)}


def compose_app_runs(status, plan, release_dir):
    """Whether the project runs ``release_dir`` already as a ``docker compose up`` would leave it:
    the result of groundwork.infra.compose_status (no background job) says healthy, every service of
    the compose file (``plan.images``) has a container, and every container runs (healthy where it
    has a health check) and was made for ``release_dir``.

    Stricter than compose_status's verdict on purpose: a container that exited, even with code 0
    (a stopped service, or a one-shot service), a service without container and a container of
    another release all mean `up` must run. The role asks only when nothing changed on this run.
    """
    if not isinstance(status, dict) or status.get("verdict") != "healthy":
        return False
    containers = status.get("services") or []
    wanted = set((plan or {}).get("images") or {})
    if not wanted or not wanted <= set(c.get("service") for c in containers):
        return False
    return all(c.get("state") == "running" and c.get("health") in ("", "healthy") and c.get("release_dir") == release_dir
               for c in containers)


def _ci(name):
    """The sort key of Jinja's sort and dictsort (case-insensitive), which these files used to be rendered with."""
    return name.lower() if isinstance(name, str) else name


def compose_app_dotenv(env):
    """The .env of a release: a comment line, then NAME="value" (JSON-quoted) for each variable, sorted."""
    lines = ["# Managed by groundwork.infra.compose_app"]
    for name, value in sorted((env or {}).items(), key=lambda item: _ci(item[0])):
        lines.append("%s=%s" % (name, json.dumps(_text(value))))
    return "\n".join(lines) + "\n"


def _text(value):
    """The value as Jinja's ``string`` filter makes it (True -> "True", 1 -> "1")."""
    return value if isinstance(value, str) else str(value)


def compose_app_overlay(secrets, plan, release_dir, runtime_dir):
    """compose.groundwork.yaml of a release: the images that digest-pinned services run instead
    (``plan.overrides``) and each secret as a compose secret read from ``<runtime_dir>/secrets/<name>``.

    ``secrets``: the project's secrets (only the names are used; the values go to their files).
    """
    lines = [
        "# Managed by groundwork.infra.compose_app: the secrets of this release and the",
        "# bundle images that digest-pinned services run, added to",
        "# %s/%s with --file." % (release_dir, plan["compose_file"]),
    ]
    overrides = plan.get("overrides") or {}
    names = sorted((secrets or {}).keys(), key=_ci)
    if overrides:
        lines.append("services:")
        for name, image in sorted(overrides.items(), key=lambda item: _ci(item[0])):
            lines += ["  %s:" % json.dumps(name), "    image: %s" % json.dumps(image)]
    if names:
        lines.append("secrets:")
        for name in names:
            lines += ["  %s:" % name, "    file: %s" % json.dumps("%s/secrets/%s" % (runtime_dir, name))]
    if not overrides and not names:
        lines.append("{}")
    return "\n".join(lines) + "\n"


class FilterModule(object):
    def filters(self):
        return {
            "compose_app_project": compose_app_project,
            "compose_app_runs": compose_app_runs,
            "compose_app_dotenv": compose_app_dotenv,
            "compose_app_overlay": compose_app_overlay,
        }
