#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: compose_release_info
short_description: Read a delivered compose release and tell which of its images the engine lacks
version_added: 0.2.0
description:
  - Reads one release directory of a compose component, as M(groundwork.infra.bundle_fetch)
    delivered it, in one call on the managed host.
  - Picks the compose file that Compose itself would pick, in Compose's order of preference
    (C(compose.yaml), C(compose.yml), C(docker-compose.yaml), C(docker-compose.yml)); a symbolic
    link is never taken. Returns its name and its content.
  - Reads the C(manifest.json) of each regular file C(images/*.tar) of the release (made with
    C(docker save)) and the config of each image in it, and returns the tags, image IDs and
    platforms (architectures) it holds.
  - Keeps only the tarballs for the host's platform (O(architecture)) in RV(tarballs) and
    RV(to_load); a tarball whose images are all for another architecture is returned in
    RV(other_platforms) and never loaded. A tarball holding images of two architectures is refused.
  - With O(engine=true), asks the Docker Engine (C(docker image inspect)) which image ID each of
    those tags names there, and returns in RV(to_load) the tarballs with a tag that the engine
    lacks or that names another image (an image rebuilt under the same tag). Loading exactly
    those makes a second run load nothing.
  - Changes nothing. Runs on the managed host with the Python standard library only.
author:
  - groundwork.infra maintainers (@groundwork-infra)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - groundwork.infra.attributes
  - groundwork.infra.attributes.info_module
options:
  path:
    description:
      - The release directory, for example C(/opt/groundwork/bundles/hello-compose/2.0.0).
    type: path
    required: true
  engine:
    description:
      - Whether to compare the tarballs' images with the Docker Engine's and return RV(to_load).
      - V(false) reads only the release (no C(docker) command runs).
    type: bool
    default: true
  architecture:
    description:
      - The host's architecture, in Debian's names (V(amd64), V(arm64), V(armhf)), that the images
        must be for.
      - By default the architecture of the host the module runs on (C(uname -m), with a 32-bit
        userland counted the way dpkg counts it), which is the Docker Engine's platform.
    type: str
notes:
  - Only the C(manifest.json) member of each tarball and the image configs it names are read, not
    the layers. An image whose config names no architecture counts as the host's.
  - Reading the tarballs and asking the engine happen in one module call, where a shell
    command, a parser and a second command for the engine took three round trips.
seealso:
  - module: groundwork.infra.compose_status
  - module: community.docker.docker_image_load
  - module: community.docker.docker_compose_v2
"""

EXAMPLES = r"""
- name: Read the compose file and the image tarballs of the release
  groundwork.infra.compose_release_info:
    path: /opt/groundwork/bundles/hello-compose/2.0.0
  register: release

- name: Load the tarballs whose images are missing or differ
  community.docker.docker_image_load:
    path: "{{ item.path }}"
  loop: "{{ release.to_load }}"
  loop_control:
    label: "{{ item.path | basename }}: {{ item.reasons | join(', ') }}"
"""

RETURN = r"""
compose_file:
  description: The name of the compose file Compose would pick in the release directory.
  returned: success
  type: str
  sample: compose.yaml
compose_content:
  description: The content of that compose file.
  returned: success
  type: str
  sample: "services:\n  web:\n    image: example/web:1\n"
architecture:
  description: The architecture the images were selected for (O(architecture) or the host's).
  returned: success
  type: str
  sample: amd64
tarballs:
  description:
    - The image tarballs C(images/*.tar) of the release for the host's platform, by file name.
  returned: success
  type: list
  elements: dict
  contains:
    path:
      description: The tarball's path.
      type: str
    tags:
      description: Every tag of every image in the tarball.
      type: list
      elements: str
    images:
      description:
        - The images of the tarball, each with C(id) (C(sha256:...)), C(tags) and C(architecture)
          (Debian's name of the platform in the image config, or null when it names none).
      type: list
      elements: dict
  sample:
    - path: /opt/groundwork/bundles/hello-compose/2.0.0/images/web.tar
      tags: [example/web:2]
      images: [{id: "sha256:4c2e...", tags: [example/web:2], architecture: amd64}]
other_platforms:
  description:
    - The tarballs of the release whose images are all for another architecture (as in
      RV(tarballs), with their C(architecture)). They are not compared with the engine.
  returned: success
  type: list
  elements: dict
  sample:
    - path: /opt/groundwork/bundles/hello-compose/2.0.0/images/web-arm64.tar
      tags: [example/web:2]
      images: [{id: "sha256:9a1b...", tags: [example/web:2], architecture: arm64}]
      architecture: arm64
to_load:
  description:
    - The tarballs (as in RV(tarballs)) to load, each with C(reasons), one sentence per tag
      that is missing on the engine or names another image there. Empty without O(engine).
  returned: success
  type: list
  elements: dict
  sample:
    - path: /opt/groundwork/bundles/hello-compose/2.0.0/images/web.tar
      tags: [example/web:2]
      images: [{id: "sha256:4c2e...", tags: [example/web:2], architecture: amd64}]
      reasons: [example/web:2 missing]
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.groundwork.infra.plugins.module_utils._bundle_arch import host_platform
from ansible_collections.groundwork.infra.plugins.module_utils._compose import (
    COMPOSE_FILE_NAMES,
    ComposeError,
    find_compose_file,
    images_to_load,
    only_missing_images,
    parse_image_inspect,
    release_tarballs,
    select_platform,
)

ARGUMENT_SPEC = dict(
    path=dict(type="path", required=True),
    engine=dict(type="bool", default=True),
    architecture=dict(type="str"),
)
# The largest compose file read (Compose projects are a few KiB).
COMPOSE_MAX_BYTES = 4 * 1024 * 1024
INSPECT_FORMAT = "{{.Id}} {{json .RepoTags}}"


def read_release(release_dir, architecture):
    """{compose_file, compose_content, architecture, tarballs, other_platforms} of one release
    directory, the tarballs split by platform for ``architecture``. Raises ComposeError."""
    if not os.path.isdir(release_dir):
        raise ComposeError("%s is not a directory (is the release delivered?)" % release_dir)
    name = find_compose_file(release_dir)
    if name is None:
        raise ComposeError("%s has no compose file (looked for %s)" % (release_dir, ", ".join(COMPOSE_FILE_NAMES)))
    path = os.path.join(release_dir, name)
    try:
        with open(path, "rb") as handle:
            data = handle.read(COMPOSE_MAX_BYTES + 1)
    except OSError as exc:
        raise ComposeError("cannot read %s: %s" % (path, exc.strerror or exc))
    if len(data) > COMPOSE_MAX_BYTES:
        raise ComposeError("%s is larger than %d bytes" % (path, COMPOSE_MAX_BYTES))
    try:
        content = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ComposeError("%s is not UTF-8 text: %s" % (path, exc))
    for_host, other = select_platform(release_tarballs(release_dir), architecture)
    return {"compose_file": name, "compose_content": content, "architecture": architecture,
            "tarballs": for_host, "other_platforms": other}


def engine_images(run_command, tags):
    """{tag: image ID} of the tags the engine has, from one ``docker image inspect``."""
    if not tags:
        return {}
    rc, out, err = run_command(["docker", "image", "inspect", "--format", INSPECT_FORMAT, "--"] + list(tags))
    if rc != 0 and not only_missing_images(err):
        raise ComposeError("docker image inspect failed (rc %s): %s" % (rc, " ".join((err or out or "").split())[:1000]))
    return parse_image_inspect(out)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    try:
        result = read_release(module.params["path"], module.params["architecture"] or host_platform()["architecture"])
        result["to_load"] = []
        if module.params["engine"]:
            tags = sorted(set(tag for tarball in result["tarballs"] for tag in tarball["tags"]))
            present = engine_images(lambda argv: module.run_command(argv, environ_update={"LC_ALL": "C"}), tags)
            result["to_load"] = images_to_load(result["tarballs"], present)
    except ComposeError as exc:
        module.fail_json(msg="compose_release_info: %s" % exc)
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
