# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Compose conventions and decisions, in one place for the host and the controller.

Used by the modules compose_release_info and compose_status (on the managed host), the
compose_app filters and bundle_build's build-time check (plugin_utils/_compose.py) on the
controller: Compose's file names in its order of preference, the image IDs and platforms of
``docker save`` tarballs, which tarballs are for the host's platform and which of them the engine
lacks, and whether a project came up. Standard library only.
"""

from __future__ import annotations

import json
import os
import re
import stat
import tarfile

# Compose's own file names, in its order of preference (compose-go's DefaultFileNames).
COMPOSE_FILE_NAMES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")

_DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}$")
# docker save writes a manifest.json of a few hundred bytes per image; more is not docker save's.
MANIFEST_MAX_BYTES = 1024 * 1024
# The image config's architecture (Go's GOARCH, as Docker and OCI name platforms) -> Debian's name;
# linux/arm is handled by image_architecture (its variant decides).
OCI_ARCHITECTURES = {"amd64": "amd64", "arm64": "arm64", "386": "i386"}


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


def _is_regular_file(path):
    """A regular file that is not a symbolic link (lstat)."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def find_compose_file(directory):
    """The compose file Compose would pick in ``directory`` (a regular file, not a link), or None."""
    for name in COMPOSE_FILE_NAMES:
        if _is_regular_file(os.path.join(directory, name)):
            return name
    return None


def image_architecture(config):
    """The Debian name of the platform an image config (``docker save``'s ``<id>.json`` or OCI
    config blob) was made for: its ``architecture`` (Go's names: amd64, arm64, arm with
    ``variant`` v5/v6/v7/v8, 386) in Debian's names (amd64, arm64, armel/armhf, i386), or None
    when the config names none. A name the table does not know is returned as given."""
    if not isinstance(config, dict) or not isinstance(config.get("architecture"), str) or not config["architecture"]:
        return None
    arch = config["architecture"].lower()
    if arch == "arm":
        # Docker's linux/arm is v7 unless the variant says otherwise; Debian's armhf is ARMv7 hard-float.
        return "armel" if str(config.get("variant") or "").lower() in ("v5", "v6") else "armhf"
    return OCI_ARCHITECTURES.get(arch, arch)


def _member_json(archive, name, path, what):
    """The JSON of one regular member of at most MANIFEST_MAX_BYTES, or None when the tarball has no such member."""
    try:
        member = archive.getmember(name)
    except KeyError:
        return None
    if not member.isfile() or member.size > MANIFEST_MAX_BYTES:
        raise ComposeError("%s: %s is not a regular member of at most %d bytes; save images with docker save"
                           % (path, what, MANIFEST_MAX_BYTES))
    return json.loads(archive.extractfile(member).read().decode("utf-8"))


def tarball_images(path):
    """[{id, tags, architecture}] of the images in one ``docker save`` tarball, from its manifest.json
    and each image's config (``architecture`` is None when the tarball has no config for it)."""
    try:
        with tarfile.open(path) as archive:
            entries = _member_json(archive, "manifest.json", path, "manifest.json")
            if entries is None:
                raise KeyError("no member manifest.json")
            if not isinstance(entries, list) or not entries:
                raise ComposeError("%s: manifest.json lists no image" % path)
            images = []
            for entry in entries:
                image_id = image_id_of(entry, path)
                config = _member_json(archive, entry["Config"], path, "the image config %s" % entry["Config"])
                images.append({"id": image_id, "tags": [t for t in (entry.get("RepoTags") or []) if t],
                               "architecture": image_architecture(config)})
    except ComposeError:
        raise
    except (KeyError, OSError, ValueError, tarfile.TarError) as exc:
        raise ComposeError("%s: cannot read manifest.json (%s); save images with docker save" % (path, exc))
    return images


def tarball_architecture(tarball):
    """The one architecture of a tarball's images ({images: [{architecture}]}), None when no image
    names one. A tarball with images for two architectures is refused: loading it would give the
    engine an image it cannot run, and the tags of one platform's image could be the other's."""
    found = sorted(set(image["architecture"] for image in tarball["images"] if image.get("architecture")))
    if len(found) > 1:
        raise ComposeError("%s holds images for %s; save one platform's images per tarball" % (tarball["path"], " and ".join(found)))
    return found[0] if found else None


def select_platform(tarballs, architecture):
    """Split a release's tarballs by platform: (for_host, other) where ``other`` are the tarballs whose
    images are all for another architecture than ``architecture`` (the host's, Debian's name), each
    with its ``architecture``. A tarball whose images name no architecture counts as the host's."""
    for_host, other = [], []
    for tarball in tarballs:
        arch = tarball_architecture(tarball)
        if arch is None or not architecture or arch == architecture:
            for_host.append(tarball)
        else:
            other.append(dict(tarball, architecture=arch))
    return for_host, other


def release_tarballs(release_dir):
    """[{path, tags, images: [{id, tags, architecture}]}] of the regular files ``images/*.tar`` of a release, by name.

    A tarball without any tagged image is refused: Compose finds images by name, and a role that
    loads images it cannot name could never tell whether the engine has them.
    """
    images_dir = os.path.join(release_dir, "images")
    try:
        names = sorted(os.listdir(images_dir))
    except OSError:
        return []
    tarballs = []
    for name in names:
        path = os.path.join(images_dir, name)
        if not name.endswith(".tar") or not _is_regular_file(path):
            continue
        images = tarball_images(path)
        tags = [tag for image in images for tag in image["tags"]]
        if not tags:
            raise ComposeError("%s holds no tagged image (save images by name:tag)" % path)
        tarballs.append({"path": path, "tags": tags, "images": images})
    return tarballs


def images_to_load(tarballs, engine_images):
    """The tarballs to load, each with its ``reasons``: a tag the engine lacks, or a tag that names
    another image ID than the tarball's (an image rebuilt under the same tag).

    ``engine_images``: {tag: image ID} of the images the engine has.
    """
    result = []
    for tarball in tarballs:
        reasons = []
        for image in tarball["images"]:
            for tag in image["tags"]:
                if tag not in engine_images:
                    reasons.append("%s missing" % tag)
                elif engine_images[tag] != image["id"]:
                    reasons.append("%s is %s, the bundle has %s" % (tag, engine_images[tag][:19], image["id"][:19]))
        if reasons:
            result.append(dict(tarball, reasons=reasons))
    return result


def parse_image_inspect(stdout):
    """``docker image inspect --format '{{.Id}} {{json .RepoTags}}'`` output -> {tag: image ID}.

    One line per image the engine has; the missing ones are reported on stderr only.
    """
    present = {}
    for line in (stdout or "").splitlines():
        image_id, dummy, tags = line.strip().partition(" ")
        if not image_id:
            continue
        try:
            names = json.loads(tags or "[]") or []
        except ValueError:
            raise ComposeError("cannot read the output of docker image inspect: %r" % line[:200])
        for tag in names:
            present[tag] = image_id
    return present


def only_missing_images(stderr):
    """Whether every line of ``docker image inspect``'s stderr says an image is missing."""
    lines = [line for line in (stderr or "").splitlines() if line.strip()]
    return bool(lines) and all("No such image" in line for line in lines)


# --- whether a project came up (docker compose ps) ---------------------------------------------

_STATUS_CODE_RE = re.compile(r"^(?:Restarting|Exited) \((-?[0-9]+)\)")


def ps_entries(stdout):
    """The containers of ``docker compose ps --all --format json`` (a list before Compose 2.21,
    one object per line from 2.21 on)."""
    text = (stdout or "").strip()
    if not text:
        return []
    try:
        if text.startswith("["):
            entries = json.loads(text)
        else:
            entries = [json.loads(line) for line in text.splitlines() if line.strip()]
    except ValueError:
        raise ComposeError("cannot read the output of docker compose ps: %r" % text[:200])
    return [e for e in entries if isinstance(e, dict) and e.get("Service")]


def job_state(text):
    """The state of the background ``docker compose up`` from its async results file:
    (done, failed, message). A file that cannot be read yet counts as still running."""
    try:
        data = json.loads(text)
    except ValueError:
        return False, False, ""
    if not isinstance(data, dict) or data.get("started") and not data.get("finished"):
        return False, False, ""
    failed = bool(data.get("failed")) or data.get("rc") not in (None, 0)
    message = data.get("msg") or data.get("stderr") or ""
    return True, failed, " ".join(str(message).split())


_WORKING_DIR_LABEL = "com.docker.compose.project.working_dir"


def working_dir_of(entry):
    """The project directory Compose labelled a container with (``docker compose ps``), or ''."""
    labels = entry.get("Labels") or ""
    if isinstance(labels, dict):
        return labels.get(_WORKING_DIR_LABEL) or ""
    for label in str(labels).split(","):
        key, dummy, value = label.partition("=")
        if key == _WORKING_DIR_LABEL:
            return value
    return ""


def in_release(entry, release_dir):
    """Whether a container was made for ``release_dir`` (Compose labels it with its project directory)."""
    return working_dir_of(entry) == release_dir


def _service(entry):
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
    return {"service": entry["Service"], "container": entry.get("Name", ""), "state": state, "health": health,
            "exit_code": exit_code, "status": entry.get("Status", ""), "problem": problem, "done": done,
            "release_dir": working_dir_of(entry)}


def project_health(entries, job=None, release_dir=""):
    """Decide whether a project came up from its containers (``ps_entries``).

    ``job``: (done, failed, message) of the background ``docker compose up`` (``job_state``), or
    None when none runs. While that job runs and ``release_dir`` is given, only the containers made
    for that release directory count: the previous release's containers are being stopped and
    replaced (a web front end whose store is being recreated turns unhealthy, a stopped container
    shows exit code 137).

    Returns {verdict, failing, waiting, services, summary, compose_error}:

    - ``failed`` as soon as one container has exited with a non-zero code, is restarting (a crash
      loop under a restart policy) or is unhealthy (its health check ran out of retries), or
      ``docker compose up`` itself failed: waiting longer cannot make that release healthy;
    - ``healthy`` when every container runs (healthy where it has a health check) or has exited 0
      (a one-shot service), and ``docker compose up`` (when given) has finished;
    - ``waiting`` otherwise (starting health checks, containers not started yet).
    """
    job_done, job_failed, compose_error = job if job is not None else (True, False, "")
    if not job_done and release_dir:
        entries = [e for e in entries if in_release(e, release_dir)]
    services = [_service(entry) for entry in entries]
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
