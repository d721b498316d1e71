# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to groundwork.infra: bundle manifest parsing (formats 1 and 2), validation and compatibility. Controller side.

Uses PyYAML and packaging, both dependencies of ansible-core, so this runs
wherever the controller runs. The format is described in docs/bundle-format.md.
"""

from __future__ import annotations

import copy
import datetime
import os
import posixpath
import re
from urllib.parse import unquote, urljoin, urlparse, urlsplit

from ansible_collections.groundwork.infra.plugins.module_utils._bundle_arch import ARCHITECTURES, MACHINES, valid_architecture
from ansible_collections.groundwork.infra.plugins.module_utils._bundle_errors import (
    CompatibilityError,
    ManifestError,
)
from ansible_collections.groundwork.infra.plugins.module_utils._bundle_names import (
    HEX_RE,
    valid_capability,
    valid_file_name,
    valid_name,
    valid_version,
)

try:
    import yaml
    from packaging.specifiers import InvalidSpecifier, SpecifierSet
    from packaging.version import InvalidVersion, Version
    HAS_DEPS = True
    DEPS_ERROR = None
except ImportError as exc:  # pragma: no cover - both ship with ansible-core
    HAS_DEPS = False
    DEPS_ERROR = str(exc)

# Format 2 = format 1 + architectures (an artifact's ``arch``, a component's ``requires.architecture``).
# A release without them is written, and read, as format 1.
FORMAT_VERSION = 2
FORMATS = (1, 2)
MAX_MANIFEST_SIZE = 1024 * 1024
KINDS = ("compose", "systemd", "k3s", "k8s-manifests", "helm", "cloud-init", "files")
HASH_FIELDS = ("sha256", "sha512")
# Anything that looks like a digest field but is not one we accept fails closed.
WEAK_HASH_FIELDS = ("md5", "sha1", "sha224", "sha384", "sha3_256", "sha3_512", "blake2b", "blake2s", "checksum", "digest")
UNPACK_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.xz", ".txz", ".tar.bz2", ".tbz2")

HEX_LENGTH = {"sha256": 64, "sha512": 128}

TOP_KEYS = {"format", "release", "issued", "expires", "components", "description", "base_url"}
COMPONENT_KEYS = {"name", "version", "kind", "description", "artifacts", "requires"}
ARTIFACT_KEYS = {"name", "url", "size", "unpack", "unpacked_size"} | set(HASH_FIELDS)
REQUIRES_KEYS = {"components", "host"}
# What format 2 adds; in a format 1 manifest these are unknown fields.
ARTIFACT_KEYS_BY_FORMAT = {1: ARTIFACT_KEYS, 2: ARTIFACT_KEYS | {"arch"}}
REQUIRES_KEYS_BY_FORMAT = {1: REQUIRES_KEYS, 2: REQUIRES_KEYS | {"architecture"}}


def _require_deps():
    if not HAS_DEPS:
        raise ManifestError("the PyYAML and packaging Python libraries are required on the controller: %s" % DEPS_ERROR)


class _UniqueKeyLoader(yaml.SafeLoader if HAS_DEPS else object):
    """SafeLoader that refuses duplicate mapping keys instead of keeping the last one."""


class _YamlFloat(float):
    """A float read from YAML that remembers how it was written (``release: 1.10`` reads as 1.1)."""

    yaml_text = None


def _construct_float(loader, node):
    value = _YamlFloat(yaml.SafeLoader.construct_yaml_float(loader, node))
    value.yaml_text = node.value
    return value


def _construct_mapping(loader, node, deep=False):
    seen = set()
    for key_node, _value_node in node.value:
        key = loader.construct_object(key_node, deep=deep)
        try:
            duplicate = key in seen
        except TypeError:
            raise yaml.constructor.ConstructorError(None, None, "unhashable mapping key", key_node.start_mark)
        if duplicate:
            raise yaml.constructor.ConstructorError(
                None, None, "duplicate key '%s'" % (key,), key_node.start_mark)
        seen.add(key)
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


if HAS_DEPS:
    _UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
    _UniqueKeyLoader.add_constructor("tag:yaml.org,2002:float", _construct_float)


def parse_version(value, what, component=None, file=None):
    """Validate a version string used in paths and comparisons; return packaging Version."""
    _require_deps()
    if isinstance(value, bool) or not isinstance(value, str):
        if isinstance(value, (int, float)):
            written = getattr(value, "yaml_text", None) or str(value)
            raise ManifestError(
                "%s must be a quoted string: YAML reads %s as the number %r (write \"%s\")" % (what, written, value, written),
                component=component, file=file)
        raise ManifestError("%s must be a string, got %s" % (what, type(value).__name__), component=component, file=file)
    if not valid_version(value):
        raise ManifestError(
            "%s '%s' is not allowed: use letters, digits and . + _ - only (at most 64 characters)" % (what, value),
            component=component, file=file)
    try:
        return Version(value)
    except InvalidVersion:
        raise ManifestError("%s '%s' is not a valid version (PEP 440, for example 1.2.3 or 2026.11.0)" % (what, value),
                            component=component, file=file)


_DOTTED_RE = re.compile(r"(?<![0-9A-Za-z.+~_-])v?(\d+(?:\.\d+)+)")
_NUMBER_RE = re.compile(r"(?<![0-9A-Za-z.+~_-])v?(\d+)")


def host_version(value):
    """Read a version a host reports (for example '20.10.24+dfsg1', 'v1.30.2+k3s1', '252 (252.22-1~deb12u1)').

    Returns a packaging Version or None when nothing version-like is found.
    """
    _require_deps()
    if value is None:
        return None
    text = str(value).strip()
    try:
        return Version(text)
    except InvalidVersion:
        pass
    # A Debian epoch ("5:24.0.7-1~debian.12") is not part of the upstream version.
    text = re.sub(r"^\d+:", "", text)
    # Prefer a dotted number that stands on its own: not the "3" of "k3s version v1.30.2+k3s1",
    # nor pieces of a suffix such as "deb12u1".
    match = _DOTTED_RE.search(text) or _NUMBER_RE.search(text)
    if not match:
        return None
    try:
        return Version(match.group(1))
    except InvalidVersion:  # pragma: no cover - the regex only yields digits and dots
        return None


def parse_specifier(value, what, component=None, file=None):
    _require_deps()
    if isinstance(value, bool) or not isinstance(value, str):
        raise ManifestError("%s must be a version constraint string such as \">=1.2,<2\", got %r" % (what, value),
                            component=component, file=file)
    try:
        return SpecifierSet(value)
    except InvalidSpecifier:
        raise ManifestError("%s '%s' is not a valid version constraint (for example \">=1.2,<2\")" % (what, value),
                            component=component, file=file)


def parse_time(value, what, file=None):
    """Accept an ISO 8601 timestamp (string or YAML timestamp); always return an aware UTC datetime."""
    if isinstance(value, datetime.datetime):
        moment = value
    elif isinstance(value, datetime.date):
        moment = datetime.datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        text = value.strip()
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        try:
            moment = datetime.datetime.fromisoformat(text)
        except ValueError:
            raise ManifestError("%s '%s' is not an ISO 8601 time such as 2026-11-23T10:00:00Z" % (what, value), file=file)
    else:
        raise ManifestError("%s must be an ISO 8601 time such as 2026-11-23T10:00:00Z" % what, file=file)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment.astimezone(datetime.timezone.utc)


def format_time(moment):
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def default_unpack(name):
    return name.endswith(UNPACK_SUFFIXES)


class Artifact(object):
    def __init__(self, name, url, algorithm, digest, size, unpack, unpacked_size=None, arch=None):
        self.name = name
        self.url = url
        self.algorithm = algorithm
        self.digest = digest
        self.size = size
        self.unpack = unpack
        self.unpacked_size = unpacked_size
        self.arch = arch  # a Debian architecture, or None: for every architecture

    def to_dict(self):
        data = {"name": self.name, "url": self.url, self.algorithm: self.digest, "size": self.size, "unpack": self.unpack}
        if self.unpacked_size is not None:
            data["unpacked_size"] = self.unpacked_size
        if self.arch is not None:
            data["arch"] = self.arch
        return data


class Component(object):
    def __init__(self, name, version, kind, artifacts, requires_components, requires_host, description=None,
                 requires_architecture=None):
        self.name = name
        self.version = version
        self.kind = kind
        self.artifacts = artifacts
        self.requires_components = requires_components  # name -> spec string
        self.requires_host = requires_host  # capability -> spec string
        self.requires_architecture = requires_architecture  # list of Debian architectures, or None: any
        self.description = description

    @property
    def requires(self):
        data = {"components": dict(self.requires_components), "host": dict(self.requires_host)}
        if self.requires_architecture:
            data["architecture"] = list(self.requires_architecture)
        return data

    @property
    def carried(self):
        """Architectures this component has builds for (sorted); empty when every artifact is for all."""
        return sorted(set(a.arch for a in self.artifacts if a.arch is not None))

    @property
    def architectures(self):
        """Architectures this component can be delivered to (sorted), or None for every architecture."""
        carried, required = self.carried, self.requires_architecture
        if carried and required:
            return sorted(set(carried) & set(required))
        if carried or required:
            return sorted(carried or required)
        return None

    def for_architecture(self, arch):
        """A copy with the artifacts a host of ``arch`` gets: those for all architectures and those for ``arch``."""
        comp = copy.copy(self)
        comp.artifacts = [a for a in self.artifacts if a.arch is None or a.arch == arch]
        return comp

    def to_dict(self):
        return {
            "name": self.name,
            "version": self.version,
            "kind": self.kind,
            "description": self.description,
            "architectures": self.architectures or ["all"],
            "artifacts": [a.to_dict() for a in self.artifacts],
            "requires": self.requires,
            "size": sum(a.size for a in self.artifacts),
        }


def describe_architectures(architectures):
    return ", ".join(architectures) if architectures else "all architectures"


def select_architecture(components, arch, release, host=None):
    """The components as a host of architecture ``arch`` gets them, and the problems that refuse it.

    A component with builds for some architectures only (artifacts with ``arch``), or that
    requires some (``requires.architecture``), cannot go to a host of another architecture:
    each such component gives one problem naming what it and the release carry. Components
    for all architectures go anywhere, whatever ``arch`` is (None: unknown). ``host``
    describes the host's architecture in the problems (for example "armhf (ansible_architecture armv7l)").
    """
    host = host or arch or "of an unknown architecture"
    carried = sorted(set(a for comp in components for a in (comp.architectures or ())))
    selected, problems = [], []
    for comp in components:
        allowed = comp.architectures
        if allowed is None or arch in allowed:
            selected.append(comp.for_architecture(arch))
            continue
        if comp.requires_architecture and (not comp.carried or arch in comp.carried):
            why = "requires architecture %s" % describe_architectures(comp.requires_architecture)
        else:
            why = "has no build for it (it is built for %s)" % describe_architectures(allowed)
        problems.append("%s %s %s, but the host is %s; release %s carries %s" % (
            comp.name, comp.version, why, host, release, describe_architectures(carried)))
    return selected, problems


class Manifest(object):
    def __init__(self, release, issued, expires, components, source, description=None, format=1):
        self.release = release
        self.issued = issued
        self.expires = expires
        self.components = components  # ordered list
        self.source = source
        self.description = description
        self.format = format

    @property
    def carried(self):
        """Every architecture some component of the release has a build for (sorted; empty: all are for all)."""
        return sorted(set(a for comp in self.components for a in comp.carried))

    @property
    def by_name(self):
        return dict((c.name, c) for c in self.components)

    def select(self, names):
        """Components named in ``names`` (all when empty), in manifest order; unknown names fail."""
        if not names:
            return list(self.components)
        known = self.by_name
        unknown = [n for n in names if n not in known]
        if unknown:
            raise ManifestError(
                "release %s has no component(s) %s; it offers: %s" % (
                    self.release, ", ".join(sorted(unknown)), ", ".join(sorted(known)) or "nothing"),
                file=self.source)
        wanted = set(names)
        return [c for c in self.components if c.name in wanted]

    def check_expiry(self, now=None, allow_expired=False):
        if self.expires is None or allow_expired:
            return
        now = now or datetime.datetime.now(datetime.timezone.utc)
        if now > self.expires:
            raise ManifestError(
                "release %s expired at %s (now %s); a stale manifest is refused, set allow_expired to accept it" % (
                    self.release, format_time(self.expires), format_time(now)),
                file=self.source)

    def to_dict(self):
        return {
            "format": self.format,
            "release": self.release,
            "issued": format_time(self.issued),
            "expires": format_time(self.expires) if self.expires else None,
            "description": self.description,
            "components": [c.to_dict() for c in self.components],
        }


def _strict_keys(data, allowed, what, component=None, file=None):
    extra = sorted(str(k) for k in data if k not in allowed)
    if extra:
        raise ManifestError("%s has unknown field(s) %s; allowed: %s" % (what, ", ".join(extra), ", ".join(sorted(allowed))),
                            component=component, file=file)


def _non_negative_int(value, what, component, file):
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ManifestError("%s must be a whole number of bytes >= 0, got %r" % (what, value), component=component, file=file)
    return value


class Locations(object):
    """Where the artifacts of a manifest may come from (threat 23; the rule is in docs/bundle-format.md).

    ``manifest_url``: where the manifest was read (http, https or file URL). An artifact location,
    once resolved against it, must lie under the manifest's own directory, or under the
    ``base_url`` the manifest declares (http or https only). ``file://`` is allowed only when the
    manifest itself was read from a local file, and only inside the manifest's directory; no
    ``..`` (also percent-encoded) anywhere in the path. Without a manifest URL (a manifest
    parsed from bytes for inspection) nothing is resolved or judged.
    """

    def __init__(self, manifest_url, declared=None, file=None):
        self.manifest_url = manifest_url
        self.roots = []
        if not manifest_url:
            return
        self.roots.append(self._root(urljoin(manifest_url, "."), "the manifest's directory", file))
        if declared is not None:
            if not isinstance(declared, str) or urlparse(declared).scheme not in ("http", "https") or \
                    not urlparse(declared).netloc or any(c in declared for c in "\r\n\0 "):
                raise ManifestError("base_url %r must be an http:// or https:// URL" % (declared,), file=file)
            self.roots.append(self._root(declared.rstrip("/") + "/", "base_url %s" % declared, file))

    @staticmethod
    def _segments(path):
        return unquote(path).split("/")

    def _root(self, url, what, file):
        parts = urlsplit(url)
        if ".." in self._segments(parts.path):
            raise ManifestError("%s %s has a '..' segment" % (what, url), file=file)
        return (parts.scheme.lower(), parts.netloc.lower(), parts.path)

    def check(self, url, what, component, file):
        """Raise ManifestError unless the resolved ``url`` lies under one of the allowed roots."""
        if not self.roots:
            return
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if ".." in self._segments(parts.path) or "." in self._segments(parts.path)[1:-1]:
            raise ManifestError("%s location %s has a '..' or '.' segment (also percent-encoded)" % (what, url),
                                component=component, file=file)
        if scheme == "file" and self.roots[0][0] != "file":
            raise ManifestError(
                "%s location %s is a controller file, but the manifest was not read from one: a manifest from a "
                "server names artifacts under its own directory or its base_url only" % (what, url),
                component=component, file=file)
        path = posixpath.normpath(unquote(parts.path)) if scheme == "file" else parts.path
        for root_scheme, root_netloc, root_path in self.roots:
            if scheme != root_scheme or parts.netloc.lower() != root_netloc:
                continue
            prefix = posixpath.normpath(unquote(root_path)) + "/" if scheme == "file" else root_path
            if not path.startswith(prefix):
                continue
            if scheme == "file" and not os.path.realpath(path).startswith(os.path.realpath(prefix) + "/"):
                # Inside by name, but a symlink in the release directory leads elsewhere on the controller.
                raise ManifestError("%s location %s leads out of the manifest's directory through a symlink" % (what, url),
                                    component=component, file=file)
            return
        allowed = " or ".join("%s://%s%s" % root for root in self.roots)
        raise ManifestError("%s location %s is outside the release: artifacts must lie under %s" % (what, url, allowed),
                            component=component, file=file)


def _format_2_only(raw, field, fmt, what, component, file):
    if fmt < 2 and field in raw:
        raise ManifestError("%s has '%s', which a format 1 manifest does not have: architectures need format: 2"
                            % (what, field), component=component, file=file)


def _parse_arch(value, what, component, file):
    if valid_architecture(value):
        return value
    hint = ""
    if isinstance(value, str) and MACHINES.get(value.lower()) in ARCHITECTURES:
        hint = " (the Debian name of %s is %s)" % (value, MACHINES[value.lower()])
    raise ManifestError("%s %r is not an architecture the bundle format names: %s%s" % (what, value, ", ".join(ARCHITECTURES), hint),
                        component=component, file=file)


def _parse_artifact(raw, index, component, base_url, file, locations=None, fmt=1):
    what = "artifact #%d" % (index + 1)
    if not isinstance(raw, dict):
        raise ManifestError("%s must be a mapping" % what, component=component, file=file)
    weak = sorted(k for k in raw if str(k).lower() in WEAK_HASH_FIELDS)
    if weak:
        raise ManifestError(
            "%s uses unsupported hash algorithm %s (sha256 or sha512 only)" % (what, ", ".join(weak)),
            component=component, file=file)
    _format_2_only(raw, "arch", fmt, what, component, file)
    _strict_keys(raw, ARTIFACT_KEYS_BY_FORMAT[fmt], what, component, file)
    name = raw.get("name")
    if not valid_file_name(name):
        raise ManifestError("%s has an invalid file name %r (a plain file name: letters, digits, . _ + - ~)" % (what, name),
                            component=component, file=file)
    what = "artifact '%s'" % name
    hashes = [h for h in HASH_FIELDS if h in raw]
    if len(hashes) != 1:
        raise ManifestError("%s must declare exactly one of sha256 or sha512" % what, component=component, file=file)
    algorithm = hashes[0]
    digest = raw[algorithm]
    if not isinstance(digest, str) or not HEX_RE[algorithm].fullmatch(digest):
        raise ManifestError("%s has a malformed %s (expected %d hex digits)" % (what, algorithm, HEX_LENGTH[algorithm]),
                            component=component, file=file)
    if "size" not in raw:
        raise ManifestError("%s must declare its size in bytes" % what, component=component, file=file)
    size = _non_negative_int(raw["size"], "%s size" % what, component, file)
    url = raw.get("url", name)
    if not isinstance(url, str) or not url or any(c in url for c in "\r\n\0"):
        raise ManifestError("%s has an invalid url %r" % (what, url), component=component, file=file)
    scheme = urlparse(url).scheme
    if scheme and scheme not in ("http", "https", "file"):
        raise ManifestError("%s url scheme '%s' is not supported (http, https, file or relative)" % (what, scheme),
                            component=component, file=file)
    resolved = urljoin(base_url, url) if base_url and not scheme else url
    if locations is not None:
        locations.check(resolved, what, component, file)
    unpack = raw.get("unpack", default_unpack(name))
    if not isinstance(unpack, bool):
        raise ManifestError("%s unpack must be true or false" % what, component=component, file=file)
    unpacked_size = raw.get("unpacked_size")
    if unpacked_size is not None:
        unpacked_size = _non_negative_int(unpacked_size, "%s unpacked_size" % what, component, file)
    arch = _parse_arch(raw["arch"], "%s arch" % what, component, file) if "arch" in raw else None
    return Artifact(name, resolved, algorithm, digest.lower(), size, unpack, unpacked_size, arch=arch)


def _parse_requires(raw, component, file, fmt=1):
    if raw is None:
        return {}, {}, None
    if not isinstance(raw, dict):
        raise ManifestError("requires must be a mapping with 'components' and/or 'host'", component=component, file=file)
    _format_2_only(raw, "architecture", fmt, "requires", component, file)
    _strict_keys(raw, REQUIRES_KEYS_BY_FORMAT[fmt], "requires", component, file)
    comps = raw.get("components") or {}
    host = raw.get("host") or {}
    if not isinstance(comps, dict) or not isinstance(host, dict):
        raise ManifestError("requires.components and requires.host must be mappings of name: constraint",
                            component=component, file=file)
    req_c = {}
    for name, spec in comps.items():
        if not valid_name(name):
            raise ManifestError("requires.components names an invalid component %r" % (name,), component=component, file=file)
        parse_specifier(spec, "requirement on component '%s'" % name, component, file)
        req_c[name] = spec
    req_h = {}
    for name, spec in host.items():
        if not valid_capability(name):
            raise ManifestError("requires.host names an invalid capability %r (lowercase letters, digits, _)" % (name,),
                                component=component, file=file)
        parse_specifier(spec, "requirement on host capability '%s'" % name, component, file)
        req_h[name] = spec
    req_a = None
    if "architecture" in raw:
        value = raw["architecture"]
        if not isinstance(value, list) or not value:
            raise ManifestError("requires.architecture must list the architectures the component runs on, for example [amd64, arm64]",
                                component=component, file=file)
        req_a = []
        for item in value:
            arch = _parse_arch(item, "requires.architecture entry", component, file)
            if arch in req_a:
                raise ManifestError("requires.architecture lists %s twice" % arch, component=component, file=file)
            req_a.append(arch)
        req_a.sort()
    return req_c, req_h, req_a


def load_manifest(data, source="manifest.yaml", base_url=None, max_size=MAX_MANIFEST_SIZE):
    """Parse and validate manifest bytes. ``base_url`` resolves relative artifact URLs."""
    _require_deps()
    if len(data) > max_size:
        raise ManifestError("manifest is %d bytes, over the %d byte limit" % (len(data), max_size), file=source)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ManifestError("manifest is not UTF-8 text", file=source)
    try:
        raw = yaml.load(text, Loader=_UniqueKeyLoader)  # nosec - SafeLoader subclass
    except yaml.YAMLError as exc:
        raise ManifestError("manifest is not valid YAML: %s" % str(exc).replace("\n", " "), file=source)
    if not isinstance(raw, dict):
        raise ManifestError("manifest must be a YAML mapping with format, release, issued and components", file=source)
    _strict_keys(raw, TOP_KEYS, "manifest", file=source)
    fmt = raw.get("format")
    # Exactly the integer 1: YAML true and 1.0 compare equal to 1 in Python.
    if isinstance(fmt, bool) or not isinstance(fmt, int) or fmt not in FORMATS:
        raise ManifestError("unsupported bundle format %r (this collection reads formats %s)" % (fmt, ", ".join(map(str, FORMATS))),
                            file=source)
    release = raw.get("release")
    parse_version(release, "release", file=source)
    if "issued" not in raw:
        raise ManifestError("manifest must say when it was issued (issued: 2026-11-23T10:00:00Z)", file=source)
    issued = parse_time(raw["issued"], "issued", file=source)
    expires = parse_time(raw["expires"], "expires", file=source) if raw.get("expires") is not None else None
    if expires is not None and expires <= issued:
        raise ManifestError("expires (%s) is not after issued (%s)" % (format_time(expires), format_time(issued)), file=source)
    locations = Locations(base_url, raw.get("base_url"), file=source)
    comps_raw = raw.get("components")
    if not isinstance(comps_raw, list) or not comps_raw:
        raise ManifestError("manifest must list at least one component under 'components'", file=source)
    components = []
    seen = set()
    for index, craw in enumerate(comps_raw):
        if not isinstance(craw, dict):
            raise ManifestError("component #%d must be a mapping" % (index + 1), file=source)
        name = craw.get("name")
        if not valid_name(name):
            raise ManifestError(
                "component #%d has an invalid name %r: lowercase letters, digits, . _ - (at most 64 characters)" % (index + 1, name),
                file=source)
        if name in seen:
            raise ManifestError("component '%s' is listed twice" % name, file=source)
        seen.add(name)
        _strict_keys(craw, COMPONENT_KEYS, "component", component=name, file=source)
        version = craw.get("version")
        parse_version(version, "version", component=name, file=source)
        kind = craw.get("kind")
        if kind not in KINDS:
            raise ManifestError("kind %r is not one of %s" % (kind, ", ".join(KINDS)), component=name, file=source)
        arts_raw = craw.get("artifacts")
        if not isinstance(arts_raw, list) or not arts_raw:
            raise ManifestError("component must list at least one artifact", component=name, file=source)
        artifacts = []
        names = {}  # artifact name -> architectures it is listed for (None: all)
        for aindex, araw in enumerate(arts_raw):
            art = _parse_artifact(araw, aindex, name, base_url, source, locations, fmt=fmt)
            listed = names.setdefault(art.name, set())
            if art.arch in listed:
                raise ManifestError("artifact '%s' is listed twice%s" % (art.name, " for %s" % art.arch if art.arch else ""),
                                    component=name, file=source)
            if listed and (art.arch is None or None in listed):
                # A host of that architecture would get two files of one name.
                raise ManifestError("artifact '%s' is listed for all architectures and for %s: a host would get both"
                                    % (art.name, ", ".join(sorted(a for a in listed | {art.arch} if a))),
                                    component=name, file=source)
            listed.add(art.arch)
            artifacts.append(art)
        req_c, req_h, req_a = _parse_requires(craw.get("requires"), name, source, fmt=fmt)
        if name in req_c:
            raise ManifestError("component requires itself", component=name, file=source)
        description = craw.get("description")
        component = Component(name, version, kind, artifacts, req_c, req_h,
                              description=description if isinstance(description, str) else None, requires_architecture=req_a)
        if req_a and component.carried and not component.architectures:
            raise ManifestError("requires.architecture (%s) and the architectures of the artifacts (%s) have none in common"
                                % (", ".join(req_a), ", ".join(component.carried)), component=name, file=source)
        components.append(component)
    description = raw.get("description")
    return Manifest(release, issued, expires, components, source,
                    description=description if isinstance(description, str) else None, format=fmt)


def compare_releases(a, b):
    """-1, 0 or 1 comparing two release strings by PEP 440 ordering."""
    va, vb = parse_version(a, "release"), parse_version(b, "release")
    return (va > vb) - (va < vb)


def check_compatibility(selected, installed=None, host_capabilities=None, check_host=True):
    """Check every requirement of the resolved set at once.

    ``selected``: list of Component about to be installed.
    ``installed``: mapping name -> {"version": str, "requires": {"components": {}, "host": {}}} of
    what the host already runs (its ``current`` versions); selected components replace these.
    ``host_capabilities``: mapping capability -> version string (None or missing = unknown).
    An installed component's host requirement on an unknown capability is not judged (it was
    judged when that component was installed); a known capability that violates it is.
    ``check_host``: False skips host requirements (no host to compare against, e.g. a cache fill).
    Returns the list of problems; raise with :func:`assert_compatible`.
    """
    _require_deps()
    installed = installed or {}
    host_capabilities = host_capabilities or {}
    resolved = {}
    for name, info in installed.items():
        if info and info.get("version"):
            resolved[name] = {"version": info["version"], "requires": info.get("requires") or {}, "origin": "installed"}
    for comp in selected:
        resolved[comp.name] = {"version": comp.version, "requires": comp.requires, "origin": "selected"}
    problems = []
    for name in sorted(resolved):
        info = resolved[name]
        requires = info["requires"] or {}
        label = "%s %s" % (name, info["version"])
        for dep, spec in sorted((requires.get("components") or {}).items()):
            specs = SpecifierSet(spec)
            if dep not in resolved:
                problems.append("%s requires %s %s, which is neither selected nor installed" % (label, dep, spec))
                continue
            dep_version = host_version(resolved[dep]["version"])
            if dep_version is None or not specs.contains(dep_version, prereleases=True):
                verb = "would be installed" if resolved[dep]["origin"] == "selected" else "is installed"
                problems.append("%s requires %s %s, but %s %s %s" % (label, dep, spec, dep, resolved[dep]["version"], verb))
        for cap, spec in sorted((requires.get("host") or {}).items() if check_host else []):
            specs = SpecifierSet(spec)
            raw = host_capabilities.get(cap)
            have = host_version(raw)
            if have is None and info["origin"] == "installed":
                # Checked when it was installed; a play that did not measure this capability
                # (a files-only delivery before the Docker play) must not be refused for it.
                continue
            if have is None:
                problems.append("%s requires host %s %s, but the host's %s version is unknown" % (label, cap, spec, cap))
            elif not specs.contains(have, prereleases=True):
                problems.append("%s requires host %s %s, but the host has %s" % (label, cap, spec, raw))
    return problems


def assert_compatible(selected, installed=None, host_capabilities=None, file=None, check_host=True):
    problems = check_compatibility(selected, installed, host_capabilities, check_host=check_host)
    if problems:
        raise CompatibilityError(problems, file=file)
