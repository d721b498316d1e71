#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: bundle_build
short_description: Build a release of bundle components - reproducible archives and a manifest
version_added: 0.1.0
description:
  - Turns component source directories (and plain files such as binaries or image tarballs)
    into archives plus one C(manifest.yaml) for the release, in the format
    M(groundwork.infra.bundle_fetch) reads (see the collection's C(docs/bundle-format.md)).
  - Archives are reproducible. The same input gives byte-identical archives and the same
    sha256. Members are sorted, mtimes fixed, owner and group 0, modes normalised and
    setuid, setgid and sticky bits dropped.
  - A component may carry builds for several architectures (O(components[].per_arch)), each
    labelled with its architecture in the manifest, which is then format 2; a host gets the
    build of its own architecture. A release with no per-architecture input is written as
    format 1, byte for byte as before. A plain file given for one architecture that is an ELF
    executable for another is refused.
  - Signs the manifest with a minisign secret key when O(signing_key) is given, writing
    C(manifest.yaml.minisig) beside it. The real C(minisign -V) accepts the signature.
  - Idempotent. When the archives and the manifest content are unchanged, nothing is
    rewritten and the original issue time is kept.
  - Meant to run where releases are built (the controller or a CI job), usually delegated
    to C(localhost). Archiving uses the Python standard library. Signing needs the
    C(cryptography) library, which ansible-core depends on.
  - When the task runs on the controller (delegated to C(localhost), or a local connection),
    the action plugin first checks each component of kind C(compose) for what would fail at
    deploy time with the groundwork.infra.compose_app role and fails, building nothing, naming
    each problem - no compose file (C(compose.yaml), C(compose.yml), C(docker-compose.yaml) or
    C(docker-compose.yml)), an C(env_file) that is absolute, outside the project directory or
    missing, or a service image that is in none of the C(images/*.tar) tarballs (by tag, or by
    image ID for an image pinned by digest only).
author:
  - groundwork.infra maintainers (@groundwork-infra)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
  - groundwork.infra.attributes
  - groundwork.infra.attributes.action_plugin
attributes:
  check_mode:
    support: full
    details: Builds into a temporary directory and reports whether the release would change.
  diff_mode:
    support: full
    details: Shows the manifest before and after.
  action:
    details: The action plugin checks compose components on the controller, then runs the module.
options:
  dest:
    description:
      - Output directory. Receives C(manifest.yaml), C(manifest.yaml.minisig) when signing, and
        the artifacts under C(artifacts/<component>/<version>/).
    type: path
    required: true
  release:
    description: Release version of this set of components (PEP 440, for example C(2026.11.0)).
    type: str
    required: true
  description:
    description: Free text describing the release.
    type: str
  components:
    description: Components of the release.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Component name. Lowercase letters, digits, C(.), C(_), C(-).
        type: str
        required: true
      version:
        description: Component version (PEP 440).
        type: str
        required: true
      kind:
        description: What the component is, which decides the role that deploys it.
        type: str
        required: true
        choices: [compose, systemd, k3s, k8s-manifests, helm, cloud-init, files]
      description:
        description: Free text describing the component.
        type: str
      src:
        description:
          - Directory whose content becomes the component's archive, C(<name>-<version>.tar.gz)
            (or C(.tar.xz), C(.tar)), unpacked on hosts into the release directory.
          - At least one of O(components[].src) and O(components[].files) is required.
        type: path
      files:
        description:
          - Plain files added as they are (not unpacked), for example a binary or an image tarball.
        type: list
        elements: path
        default: []
      per_arch:
        description:
          - Inputs for one architecture each, keyed by Debian's names. Their artifacts are labelled
            with the architecture (C(arch) in the manifest) and stored under
            C(artifacts/<component>/<version>/<arch>/); a host gets those of its own architecture
            beside the component's O(components[].src) and O(components[].files), which are for
            every architecture.
          - Files of the same name for different architectures are fine (each host gets one);
            a name both for every architecture and for one is refused.
        type: dict
        suboptions:
          amd64:
            description: Inputs for amd64 (x86_64) hosts.
            type: dict
            suboptions: &arch_input
              src:
                description: Directory whose content becomes the archive C(<name>-<version>-<arch>.tar.gz) (or C(.tar.xz), C(.tar)).
                type: path
              files:
                description: Plain files added as they are, for example this architecture's binary.
                type: list
                elements: path
                default: []
          arm64:
            description: Inputs for arm64 (aarch64) hosts.
            type: dict
            suboptions: *arch_input
          armhf:
            description: Inputs for armhf (32-bit ARM, armv7l) hosts.
            type: dict
            suboptions: *arch_input
      compression:
        description: Compression of the archive made from O(components[].src).
        type: str
        choices: [gz, xz, none]
        default: gz
      requires:
        description:
          - Requirements, as in the manifest. C(components) maps component names to version
            constraints, and C(host) maps host capabilities (for example C(docker_engine), C(k3s),
            C(systemd), C(python)) to version constraints. Constraints use PEP 440 specifiers
            such as C(>=24.0,<28).
          - C(architecture) lists the architectures the component runs on (for example
            C([amd64, arm64])); a host of another one is refused. It makes the manifest format 2.
        type: dict
        default: {}
  issued:
    description:
      - Issue time written into a new manifest (ISO 8601). Defaults to C(SOURCE_DATE_EPOCH) when set,
        otherwise the current time. An unchanged release keeps its previous issue time.
    type: str
  expires:
    description: Expiry time (ISO 8601) after which hosts refuse the manifest unless told otherwise.
    type: str
  valid_days:
    description: Expiry as a number of days after the issue time. Mutually exclusive with O(expires).
    type: int
  base_url:
    description:
      - Prefix for artifact URLs in the manifest, when artifacts are served from somewhere other
        than beside the manifest. By default URLs are relative to the manifest.
      - An C(http://) or C(https://) URL. It is also written to the manifest as C(base_url), because
        M(groundwork.infra.bundle_fetch) accepts artifact locations only under the manifest's own
        directory or under the C(base_url) the manifest declares (see docs/bundle-format.md).
    type: str
  mtime:
    description: Modification time (seconds since the epoch) stored for every archive member.
    type: int
    default: 0
  signing_key:
    description: Path of a minisign secret key file to sign the manifest with.
    type: path
  signing_key_passphrase:
    description: Passphrase of O(signing_key) when the key is encrypted.
    type: str
  trusted_comment:
    description: Trusted comment stored in the signature. Defaults to the release and manifest digest.
    type: str
seealso:
  - module: groundwork.infra.bundle_fetch
  - module: groundwork.infra.bundle_info
"""

EXAMPLES = r"""
- name: Build and sign release 2026.11.0 from component directories
  groundwork.infra.bundle_build:
    dest: "{{ playbook_dir }}/dist/2026.11.0"
    release: "2026.11.0"
    valid_days: 90
    signing_key: "{{ lookup('ansible.builtin.env', 'HOME') }}/.minisign/release.key"
    signing_key_passphrase: "{{ release_key_passphrase }}"
    components:
      - name: hello-web
        version: "1.0.0"
        kind: compose
        src: components/hello-web
        requires:
          host:
            docker_engine: ">=20.10"
            docker_compose: ">=2.18"
      - name: k3s
        version: "1.30.2+k3s1"
        kind: k3s
        per_arch:
          amd64:
            files:
              - downloads/amd64/k3s
              - downloads/amd64/k3s-airgap-images-amd64.tar.zst
          arm64:
            files:
              - downloads/arm64/k3s
              - downloads/arm64/k3s-airgap-images-arm64.tar.zst
  delegate_to: localhost
  run_once: true
"""

RETURN = r"""
manifest:
  description: Path of the manifest written.
  returned: always
  type: str
  sample: /srv/dist/2026.11.0/manifest.yaml
signature:
  description: Path of the detached minisign signature, when signed.
  returned: when O(signing_key) is set
  type: str
  sample: /srv/dist/2026.11.0/manifest.yaml.minisig
key_id:
  description: Minisign key id of the signing key.
  returned: when O(signing_key) is set
  type: str
  sample: 4B1C9A8E2F3D7A60
release:
  description: The release version.
  returned: always
  type: str
  sample: "2026.11.0"
issued:
  description: Issue time recorded in the manifest.
  returned: always
  type: str
  sample: "2026-11-23T10:00:00Z"
components:
  description: Components with their artifacts as written into the manifest.
  returned: always
  type: list
  elements: dict
  sample: [{"name": "hello-web", "version": "1.0.0", "kind": "compose",
            "artifacts": [{"name": "hello-web-1.0.0.tar.gz", "url": "artifacts/hello-web/1.0.0/hello-web-1.0.0.tar.gz",
                           "sha256": "0f6c...", "size": 20480, "unpack": true, "unpacked_size": 61440}]}]
format:
  description: Format of the manifest written, 1 without architectures, 2 with.
  returned: always
  type: int
  sample: 2
"""

import datetime
import hashlib
import json
import os
import shutil
import tempfile
import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.groundwork.infra.plugins.module_utils._bundle_arch import ARCHITECTURES, file_architecture
from ansible_collections.groundwork.infra.plugins.module_utils._bundle_archive import build_archive
from ansible_collections.groundwork.infra.plugins.module_utils._bundle_errors import BundleError
from ansible_collections.groundwork.infra.plugins.module_utils._bundle_hash import hash_file
from ansible_collections.groundwork.infra.plugins.module_utils._bundle_names import (
    CAPABILITY_RE,
    NAME_RE,
    full_match,
    valid_file_name,
    valid_name,
    valid_version,
)

CONTENT_PREFIX = "# content-sha256: "
SUFFIX = {"gz": ".tar.gz", "xz": ".tar.xz", "none": ".tar"}
ARCH_INPUT_SPEC = dict(src=dict(type="path"), files=dict(type="list", elements="path", default=[]))

ARGUMENT_SPEC = dict(
    dest=dict(type="path", required=True),
    release=dict(type="str", required=True),
    description=dict(type="str"),
    components=dict(type="list", elements="dict", required=True, options=dict(
        name=dict(type="str", required=True),
        version=dict(type="str", required=True),
        kind=dict(type="str", required=True, choices=["compose", "systemd", "k3s", "k8s-manifests", "helm", "cloud-init", "files"]),
        description=dict(type="str"),
        src=dict(type="path"),
        files=dict(type="list", elements="path", default=[]),
        compression=dict(type="str", default="gz", choices=["gz", "xz", "none"]),
        requires=dict(type="dict", default={}),
        per_arch=dict(type="dict", options=dict((arch, dict(type="dict", options=ARCH_INPUT_SPEC)) for arch in ARCHITECTURES)),
    )),
    issued=dict(type="str"),
    expires=dict(type="str"),
    valid_days=dict(type="int"),
    base_url=dict(type="str"),
    mtime=dict(type="int", default=0),
    signing_key=dict(type="path"),
    signing_key_passphrase=dict(type="str", no_log=True),
    trusted_comment=dict(type="str"),
)


def _q(value):
    """A YAML scalar: JSON strings are valid YAML double-quoted scalars, numbers and booleans as is."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return json.dumps(value)


def render_manifest(manifest, content_key):
    """Deterministic YAML without a YAML library (this module may run on any build host)."""
    lines = [CONTENT_PREFIX + content_key, "format: %d" % manifest_format(manifest["components"]),
             "release: %s" % _q(manifest["release"]), "issued: %s" % _q(manifest["issued"])]
    if manifest.get("expires"):
        lines.append("expires: %s" % _q(manifest["expires"]))
    if manifest.get("description"):
        lines.append("description: %s" % _q(manifest["description"]))
    if manifest.get("base_url"):
        lines.append("base_url: %s" % _q(manifest["base_url"]))
    lines.append("components:")
    for comp in manifest["components"]:
        lines.append("  - name: %s" % _q(comp["name"]))
        lines.append("    version: %s" % _q(comp["version"]))
        lines.append("    kind: %s" % _q(comp["kind"]))
        if comp.get("description"):
            lines.append("    description: %s" % _q(comp["description"]))
        lines.append("    artifacts:")
        for art in comp["artifacts"]:
            lines.append("      - name: %s" % _q(art["name"]))
            for key in ("arch", "url", "sha256", "size", "unpack", "unpacked_size"):
                if key in art:
                    lines.append("        %s: %s" % (key, _q(art[key])))
        req = comp.get("requires") or {}
        if req.get("components") or req.get("host") or req.get("architecture"):
            lines.append("    requires:")
            for section in ("components", "host"):
                if req.get(section):
                    lines.append("      %s:" % section)
                    for key in sorted(req[section]):
                        lines.append("        %s: %s" % (_q(key), _q(req[section][key])))
            if req.get("architecture"):
                lines.append("      architecture: [%s]" % ", ".join(_q(a) for a in req["architecture"]))
    return "\n".join(lines) + "\n"


def manifest_format(components):
    """2 when an artifact is for one architecture or a component requires one, else 1 (as before architectures)."""
    for comp in components:
        if (comp.get("requires") or {}).get("architecture") or any(a.get("arch") for a in comp["artifacts"]):
            return 2
    return 1


def _iso(moment):
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_iso(value, what):
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.datetime.fromisoformat(text)
    except ValueError:
        raise BundleError("%s '%s' is not an ISO 8601 time such as 2026-11-23T10:00:00Z" % (what, value))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment


def _read_existing(path):
    """(content key, issued) of an existing manifest written by this module, or (None, None)."""
    try:
        with open(path, "r") as handle:
            text = handle.read()
    except (IOError, OSError):
        return None, None, None
    key = issued = None
    for line in text.splitlines():
        if line.startswith(CONTENT_PREFIX):
            key = line[len(CONTENT_PREFIX):].strip()
        elif line.startswith("issued: "):
            try:
                issued = json.loads(line[len("issued: "):])
            except ValueError:
                issued = None
    return key, issued, text


class BundleBuilder(object):
    def __init__(self, module):
        self.module = module
        self.params = module.params

    def _validate(self):
        params = self.params
        if not valid_version(params["release"]):
            raise BundleError("release '%s' is not allowed: letters, digits and . + _ - only" % params["release"])
        seen = set()
        for comp in params["components"]:
            name = comp["name"]
            if not valid_name(name):
                raise BundleError("invalid component name: lowercase letters, digits, . _ - (at most 64)", component=name)
            if name in seen:
                raise BundleError("component is listed twice", component=name)
            seen.add(name)
            if not valid_version(comp["version"]):
                raise BundleError("version '%s' is not allowed: letters, digits and . + _ - only" % comp["version"], component=name)
            per_arch = dict((arch, inputs) for arch, inputs in (comp["per_arch"] or {}).items() if inputs is not None)
            if not comp["src"] and not comp["files"] and not per_arch:
                raise BundleError("needs src (a directory to archive), files (plain files) or per_arch inputs", component=name)
            for arch, inputs in [(None, comp)] + sorted(per_arch.items()):
                label = " for %s" % arch if arch else ""
                if arch and not inputs["src"] and not inputs["files"]:
                    raise BundleError("per_arch.%s needs src or files" % arch, component=name)
                if inputs["src"] and not os.path.isdir(inputs["src"]):
                    raise BundleError("src for %s is not a directory" % arch if arch else "src is not a directory",
                                      component=name, file=inputs["src"])
                for path in inputs["files"]:
                    if not os.path.isfile(path):
                        raise BundleError("file to add%s is missing or not a regular file" % label, component=name, file=path)
                    if not valid_file_name(os.path.basename(path)):
                        # The manifest names the artifact by it; bundle_fetch would refuse the release.
                        raise BundleError("file to add%s has a name that cannot be an artifact name "
                                          "(letters, digits, . _ + - ~, at most 255, not starting with . _ + - ~)" % label,
                                          component=name, file=path)
                    built_for = file_architecture(path) if arch else None
                    if built_for is not None and built_for != arch:
                        # A wrong file in the wrong list would reach hosts that cannot run it.
                        raise BundleError("file given for %s is an executable for %s" % (arch, built_for), component=name, file=path)
            req = comp["requires"] or {}
            extra = set(req) - set(["components", "host", "architecture"])
            if extra:
                raise BundleError("requires may only hold 'components', 'host' and 'architecture', not %s" % ", ".join(sorted(extra)),
                                  component=name)
            if "architecture" in req:
                archs = req["architecture"]
                if not isinstance(archs, list) or not archs or any(a not in ARCHITECTURES for a in archs):
                    raise BundleError("requires.architecture must list architectures among %s, got %r" % (", ".join(ARCHITECTURES), archs),
                                      component=name)
                carried = set(per_arch)
                if carried and not carried & set(archs):
                    raise BundleError("requires.architecture (%s) names none of the per_arch architectures (%s)"
                                      % (", ".join(sorted(archs)), ", ".join(sorted(carried))), component=name)
            for section, pattern in (("components", NAME_RE), ("host", CAPABILITY_RE)):
                entries = req.get(section) or {}
                if not isinstance(entries, dict):
                    raise BundleError("requires.%s must map names to version constraints" % section, component=name)
                for key, spec in entries.items():
                    if not full_match(pattern, str(key)) or not isinstance(spec, str) or not spec.strip():
                        raise BundleError("requires.%s entry %r: %r is not a name and a constraint string" % (section, key, spec),
                                          component=name)
        if params["expires"] and params["valid_days"] is not None:
            raise BundleError("expires and valid_days are mutually exclusive")

    def _build_into(self, workdir):
        """Build every artifact into ``workdir``; return the manifest components."""
        params = self.params
        components = []
        self.placed = []
        base = params["base_url"].rstrip("/") + "/" if params["base_url"] else ""
        for comp in params["components"]:
            name, version = comp["name"], comp["version"]
            artifacts = []
            # Every architecture's inputs in one fixed order (Debian's names sorted), so that the
            # same inputs give the same manifest byte for byte.
            inputs = [(None, comp)] + [(arch, comp["per_arch"][arch]) for arch in ARCHITECTURES
                                       if (comp["per_arch"] or {}).get(arch) is not None]
            for arch, given in inputs:
                rel_dir = "artifacts/%s/%s%s" % (name, version, "/" + arch if arch else "")
                out_dir = os.path.join(workdir, rel_dir)
                os.makedirs(out_dir, 0o755, exist_ok=True)
                built = []
                if given["src"]:
                    file_name = "%s-%s%s%s" % (name, version, "-" + arch if arch else "", SUFFIX[comp["compression"]])
                    info = build_archive(given["src"], os.path.join(out_dir, file_name), compression=comp["compression"],
                                         mtime=params["mtime"])
                    built.append({"name": file_name, "sha256": info["sha256"], "size": info["size"], "unpack": True,
                                  "unpacked_size": info["unpacked_size"]})
                for path in given["files"]:
                    file_name = os.path.basename(path)
                    shutil.copyfile(path, os.path.join(out_dir, file_name))
                    os.chmod(os.path.join(out_dir, file_name), 0o644)
                    digest, size = hash_file(os.path.join(out_dir, file_name), "sha256")
                    built.append({"name": file_name, "sha256": digest, "size": size, "unpack": False})
                for art in built:
                    # One host gets the artifacts for all architectures and those for its own: no name twice among them.
                    clash = [a for a in artifacts if a["name"] == art["name"] and (a.get("arch") == arch or not arch or not a.get("arch"))]
                    if clash or any(a is not art and a["name"] == art["name"] for a in built):
                        raise BundleError("two artifacts are named '%s'%s" % (art["name"], " for %s" % arch if arch else ""),
                                          component=name, file=art["name"])
                    if arch:
                        art["arch"] = arch
                    art["url"] = base + rel_dir + "/" + art["name"]
                    self.placed.append(rel_dir + "/" + art["name"])
                    artifacts.append(art)
            requires = dict(comp["requires"] or {})
            if requires.get("architecture"):
                requires["architecture"] = sorted(set(requires["architecture"]))
            components.append({"name": name, "version": version, "kind": comp["kind"], "description": comp["description"],
                               "artifacts": artifacts, "requires": requires})
        return components

    def _times(self, existing_issued):
        params = self.params
        if params["issued"]:
            issued = _parse_iso(params["issued"], "issued")
        elif existing_issued:
            issued = _parse_iso(existing_issued, "issued in the existing manifest")
        elif os.environ.get("SOURCE_DATE_EPOCH", "").isdigit():
            issued = datetime.datetime.fromtimestamp(int(os.environ["SOURCE_DATE_EPOCH"]), datetime.timezone.utc)
        else:
            issued = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
        expires = None
        if params["expires"]:
            expires = _parse_iso(params["expires"], "expires")
        elif params["valid_days"] is not None:
            expires = issued + datetime.timedelta(days=params["valid_days"])
        if expires is not None and expires <= issued:
            raise BundleError("expires (%s) must be after issued (%s)" % (_iso(expires), _iso(issued)))
        return _iso(issued), _iso(expires) if expires else None

    def _sign(self, text, release, digest):
        try:
            from ansible_collections.groundwork.infra.plugins.module_utils import _minisign
            _minisign.load_secret_key  # noqa: B018 - probe that cryptography imported
        except ImportError:
            self.module.fail_json(msg=missing_required_lib("cryptography", reason="to sign manifests"))
        try:
            with open(self.params["signing_key"], "r") as handle:
                key_text = handle.read()
        except (IOError, OSError) as exc:
            raise BundleError("cannot read the signing key: %s" % exc, file=self.params["signing_key"])
        secret = _minisign.load_secret_key(key_text, self.params["signing_key_passphrase"])
        comment = self.params["trusted_comment"] or "release:%s manifest-sha256:%s" % (release, digest)
        return _minisign.sign(text.encode("utf-8"), secret, trusted_comment=comment), secret.key_id_hex

    def run(self):
        self._validate()
        params = self.params
        dest = params["dest"]
        manifest_path = os.path.join(dest, "manifest.yaml")
        sig_path = manifest_path + ".minisig"
        parent = dest if os.path.isdir(dest) else os.path.dirname(os.path.abspath(dest))
        if not os.path.isdir(parent):
            os.makedirs(parent, 0o755)
        workdir = tempfile.mkdtemp(prefix=".bundle-build-", dir=parent)
        try:
            components = self._build_into(workdir)
            content = {"release": params["release"], "description": params["description"], "components": components,
                       "expires": params["expires"], "valid_days": params["valid_days"]}
            if params["signing_key"]:
                content["signing_key"] = os.path.basename(params["signing_key"])
            content_key = hashlib.sha256(json.dumps(content, sort_keys=True).encode("utf-8")).hexdigest()
            old_key, old_issued, old_text = _read_existing(manifest_path)
            unchanged = old_key == content_key and (not params["signing_key"] or os.path.exists(sig_path)) and \
                all(os.path.isfile(os.path.join(dest, a["url"])) for c in components for a in c["artifacts"] if not params["base_url"])
            if unchanged and params["issued"] and old_issued != _iso(_parse_iso(params["issued"], "issued")):
                unchanged = False
            issued, expires = self._times(old_issued if old_key == content_key else None)
            manifest = {"release": params["release"], "issued": issued, "expires": expires, "description": params["description"],
                        "components": components}
            if params["base_url"]:
                # Declared in the manifest: hosts accept artifact URLs only under it or beside the manifest.
                manifest["base_url"] = params["base_url"].rstrip("/") + "/"
            text = render_manifest(manifest, content_key)
            result = {"changed": not unchanged, "manifest": manifest_path, "release": params["release"], "issued": issued,
                      "components": components, "format": manifest_format(components)}
            if self.module._diff:
                result["diff"] = {"before": old_text or "", "after": text if not unchanged else (old_text or "")}
            if params["signing_key"]:
                result["signature"] = sig_path
            if unchanged or self.module.check_mode:
                if params["signing_key"] and not self.module.check_mode:
                    result["key_id"] = self._sign(text, params["release"], "")[1]
                return result
            digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
            signature = None
            if params["signing_key"]:
                signature, result["key_id"] = self._sign(text, params["release"], digest)
            # Move artifacts into place, then the manifest, then its signature.
            for rel_path in self.placed:
                os.makedirs(os.path.join(dest, os.path.dirname(rel_path)), 0o755, exist_ok=True)
                os.replace(os.path.join(workdir, rel_path), os.path.join(dest, rel_path))
            for path, body in ((manifest_path, text), (sig_path, signature)):
                if body is None:
                    continue
                tmp = os.path.join(workdir, os.path.basename(path))
                with open(tmp, "w") as handle:
                    handle.write(body)
                os.chmod(tmp, 0o644)
                os.replace(tmp, path)
            if not params["signing_key"] and os.path.exists(sig_path):
                os.unlink(sig_path)  # a stale signature of an older manifest must not stay beside the new one
            return result
        finally:
            shutil.rmtree(workdir, ignore_errors=True)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True,
                           mutually_exclusive=[["expires", "valid_days"]])
    try:
        result = BundleBuilder(module).run()
    except BundleError as exc:
        module.fail_json(msg=exc.message, error=exc.to_dict())
    except Exception as exc:  # pylint: disable=broad-except
        module.fail_json(msg="bundle_build failed unexpectedly: %s" % exc, exception=traceback.format_exc())
    module.exit_json(**result)


if __name__ == "__main__":
    main()
