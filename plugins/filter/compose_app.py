# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Decisions of the groundwork.infra.compose_app role, kept out of Jinja so that they can be tested.

- ``compose_app_project``: what the role read on the host about one release (the compose file
  Compose would pick, its content, the manifest.json of each image tarball) -> the compose file,
  the tarballs with their tags and image IDs, and the image references the role must rewrite.
- ``compose_app_images_to_load``: the tarballs whose tags are missing on the engine or name
  another image than the one in the tarball (a rebuilt image under the same tag).
- ``compose_app_health``: the output of ``docker compose ps --all --format json`` -> whether the
  project is healthy, still starting, or failed, and which service failed how.
"""

from __future__ import annotations

import base64
import json
import re

from ansible.errors import AnsibleFilterError

from ansible_collections.groundwork.infra.plugins.plugin_utils._compose import (
    COMPOSE_FILE_NAMES,
    ComposeError,
    image_id_of,
    split_reference,
)


def parse_tarballs(lines):
    """Lines ``<path>\\t<manifest.json>`` -> [{path, tags, ids, images: [{id, tags}]}]."""
    tarballs = []
    for line in lines:
        if not line.strip():
            continue
        path, sep, text = line.partition("\t")
        if not sep:
            raise AnsibleFilterError("compose_app: cannot read the image list of %s" % path)
        try:
            entries = json.loads(text)
        except ValueError as exc:
            raise AnsibleFilterError("compose_app: manifest.json of %s is not JSON: %s" % (path, exc))
        if not isinstance(entries, list) or not entries:
            raise AnsibleFilterError("compose_app: manifest.json of %s lists no image" % path)
        try:
            ids = [image_id_of(entry, path) for entry in entries]
        except ComposeError as exc:
            raise AnsibleFilterError("compose_app: %s" % exc)
        images = [{"id": image_id, "tags": [t for t in (entry.get("RepoTags") or []) if t]} for image_id, entry in zip(ids, entries)]
        tags = [tag for image in images for tag in image["tags"]]
        if not tags:
            raise AnsibleFilterError("compose_app: %s holds no tagged image (save images by name:tag)" % path)
        tarballs.append({"path": path, "tags": tags, "images": images})
    return tarballs


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


def compose_app_project(lines, release_dir=""):
    """Parse the output of the role's project reader (vars/main.yml, compose_app__project_cmd).

    Lines: ``file\\t<name>\\t<base64 content>`` for the compose file Compose would pick (none when the
    release has none) and ``image\\t<path>\\t<manifest.json>`` for each image tarball.
    """
    compose_file, content = "", ""
    tarball_lines = []
    for line in lines:
        kind, dummy, rest = line.partition("\t")
        if kind == "file":
            compose_file, dummy, encoded = rest.partition("\t")
            content = base64.b64decode(encoded).decode("utf-8")
        elif kind == "image":
            tarball_lines.append(rest)
        elif line.strip():
            raise AnsibleFilterError("compose_app: unexpected line from the project reader: %r" % line[:200])
    if not compose_file:
        raise AnsibleFilterError("compose_app: release %s has no compose file (looked for %s)"
                                 % (release_dir or "directory", ", ".join(COMPOSE_FILE_NAMES)))
    try:
        import yaml  # controller side: ansible-core depends on PyYAML
        document = yaml.safe_load(content) or {}
    except Exception as exc:  # pylint: disable=broad-except
        raise AnsibleFilterError("compose_app: %s of %s is not valid YAML: %s" % (compose_file, release_dir, exc))
    services = document.get("services") if isinstance(document, dict) else None
    images = {}
    if isinstance(services, dict):
        images = dict((name, (spec or {}).get("image")) for name, spec in services.items() if isinstance(spec, dict))
    tarballs = parse_tarballs(tarball_lines)
    return {"compose_file": compose_file, "tarballs": tarballs, "images": images,
            "overrides": image_overrides(images, tarballs)}


def compose_app_images_to_load(tarballs, inspect_lines):
    """The tarballs to load: a tag that the engine lacks, or that names another image ID.

    ``inspect_lines``: ``docker image inspect --format '{{.Id}} {{json .RepoTags}}'`` output, one line
    per image the engine has (the missing ones are only reported on stderr).
    """
    present = {}
    for line in inspect_lines:
        image_id, dummy, tags = line.strip().partition(" ")
        if not image_id:
            continue
        for tag in json.loads(tags or "[]") or []:
            present[tag] = image_id
    result = []
    for tarball in tarballs:
        reasons = []
        for image in tarball["images"]:
            for tag in image["tags"]:
                if tag not in present:
                    reasons.append("%s missing" % tag)
                elif present[tag] != image["id"]:
                    reasons.append("%s is %s, the bundle has %s" % (tag, present[tag][:19], image["id"][:19]))
        if reasons:
            result.append(dict(tarball, reasons=reasons))
    return result


def _ps_entries(stdout):
    text = (stdout or "").strip()
    if not text:
        return []
    if text.startswith("["):  # Compose before 2.21: one list
        entries = json.loads(text)
    else:  # Compose 2.21 and later: one object per line
        entries = [json.loads(line) for line in text.splitlines() if line.strip()]
    return [e for e in entries if isinstance(e, dict) and e.get("Service")]


JOB_MARK = "#compose-up-job"
_STATUS_CODE_RE = re.compile(r"^(?:Restarting|Exited) \((-?[0-9]+)\)")


def _job(text):
    """The state of the background ``docker compose up`` from its async results file:
    (done, failed, message). A file that cannot be read counts as still running."""
    try:
        data = json.loads(text)
    except ValueError:
        return False, False, ""
    if not isinstance(data, dict) or data.get("started") and not data.get("finished"):
        return False, False, ""
    failed = bool(data.get("failed")) or data.get("rc") not in (None, 0)
    message = data.get("msg") or data.get("stderr") or ""
    return True, failed, " ".join(str(message).split())


def _in_release(entry, release_dir):
    """Whether a container was made for ``release_dir`` (Compose labels it with its project directory)."""
    labels = entry.get("Labels") or ""
    if isinstance(labels, dict):
        return labels.get("com.docker.compose.project.working_dir") == release_dir
    return ("com.docker.compose.project.working_dir=%s" % release_dir) in str(labels).split(",")


def compose_app_health(stdout, release_dir=""):
    """Decide from ``docker compose ps --all --format json`` whether a project came up.

    The input may continue with a line ``#compose-up-job`` and the async results file of the
    ``docker compose up`` that the role runs in the background (tasks/project.yml). While that
    job runs and ``release_dir`` is given, only the containers made for that release directory
    count: the previous release's containers are being stopped and replaced (a web front end
    whose store is being recreated turns unhealthy, a stopped container shows exit code 137).

    Returns {verdict, failing, waiting, services, summary, compose_error}:

    - ``failed`` as soon as one container has exited with a non-zero code, is restarting (a crash
      loop under a restart policy) or is unhealthy (its health check ran out of retries), or
      ``docker compose up`` itself failed: waiting longer cannot make that release healthy;
    - ``healthy`` when every container runs (healthy where it has a health check) or has exited 0
      (a one-shot service), and ``docker compose up`` (when given) has finished;
    - ``waiting`` otherwise (starting health checks, containers not started yet).
    """
    text = stdout or ""
    job_text = None
    if JOB_MARK in text:
        text, dummy, job_text = text.partition(JOB_MARK)
    job_done, job_failed, compose_error = _job(job_text) if job_text is not None else (True, False, "")
    entries = _ps_entries(text)
    if not job_done and release_dir:
        entries = [e for e in entries if _in_release(e, release_dir)]
    services = []
    for entry in entries:
        state = (entry.get("State") or "").lower()
        health = (entry.get("Health") or "").lower()
        exit_code = entry.get("ExitCode")
        status_code = _STATUS_CODE_RE.match(entry.get("Status") or "")
        if status_code and state in ("restarting", "exited", "dead"):
            # `ps` gives ExitCode 0 for a restarting container; its Status has the last code.
            exit_code = int(status_code.group(1))
        if state in ("exited", "dead") and exit_code not in (0, None):
            problem = "exited with code %s" % exit_code
        elif state == "dead":
            problem = "is dead"
        elif state == "restarting":
            problem = "keeps restarting (last exit code %s)" % exit_code
        elif health == "unhealthy":
            problem = "is unhealthy"
        else:
            problem = ""
        done = not problem and ((state == "running" and health in ("", "healthy")) or (state == "exited" and exit_code == 0))
        services.append({"service": entry["Service"], "container": entry.get("Name", ""), "state": state, "health": health,
                         "exit_code": exit_code, "status": entry.get("Status", ""), "problem": problem, "done": done})
    failing = [s for s in services if s["problem"]]
    waiting = [s for s in services if not s["problem"] and not s["done"]]
    if failing or job_failed:
        verdict = "failed"
    elif services and not waiting and job_done:
        verdict = "healthy"
    else:
        verdict = "waiting"
    parts = ["%s %s (%s)" % (s["service"], s["problem"], s["status"] or s["state"]) for s in failing]
    parts += ["%s not ready: %s%s" % (s["service"], s["state"] or "unknown", (", health " + s["health"]) if s["health"] else "")
              for s in waiting]
    return {"verdict": verdict, "failing": sorted(set(s["service"] for s in failing)),
            "waiting": sorted(set(s["service"] for s in waiting)), "services": services,
            "summary": "; ".join(parts) if parts else "no container was created", "compose_error": compose_error}


class FilterModule(object):
    def filters(self):
        return {
            "compose_app_project": compose_app_project,
            "compose_app_images_to_load": compose_app_images_to_load,
            "compose_app_health": compose_app_health,
        }
