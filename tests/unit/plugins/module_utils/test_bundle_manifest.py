# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Manifest v1 parsing, validation, expiry and compatibility (threats 5, 6, 7, 11, 15, 16)."""

from __future__ import annotations

import copy
import datetime
import os

import pytest
import yaml

from ansible_collections.groundwork.infra.plugins.module_utils._bundle_errors import (
    CompatibilityError,
    ManifestError,
)
from ansible_collections.groundwork.infra.plugins.module_utils._bundle_manifest import (
    MAX_MANIFEST_SIZE,
    Artifact,
    Component,
    assert_compatible,
    check_compatibility,
    compare_releases,
    host_version,
    load_manifest,
)

SOURCE = "https://releases.example.invalid/bundles/2026.11.0/manifest.yaml"
SHA256 = "ab" * 32
SHA512 = "cd" * 64
UTC = datetime.timezone.utc


def base():
    return {
        "format": 1,
        "release": "2026.11.0",
        "issued": "2026-11-23T10:00:00Z",
        "expires": "2026-12-23T10:00:00Z",
        "description": "November release",
        "base_url": "https://mirror.example.invalid/x/",
        "components": [
            {
                "name": "hello-web",
                "version": "1.2.0",
                "kind": "compose",
                "description": "web front",
                "artifacts": [
                    {"name": "hello-web-1.2.0.tar.gz", "sha256": SHA256, "size": 1234},
                    {"name": "hello.env", "url": "https://mirror.example.invalid/x/hello.env",
                     "sha512": SHA512.upper(), "size": 10},
                    {"name": "bundle.tar.xz", "url": "sub/bundle.tar.xz", "sha256": SHA256, "size": 0,
                     "unpack": False},
                    {"name": "data.tgz", "sha256": SHA256, "size": 5, "unpacked_size": 50},
                ],
                "requires": {"components": {"redis": ">=7,<8"}, "host": {"docker": ">=20.10"}},
            },
            {
                "name": "redis",
                "version": "7.2.4",
                "kind": "systemd",
                "artifacts": [{"name": "redis.bin", "sha256": SHA256, "size": 42}],
            },
        ],
    }


def dump(data):
    return yaml.safe_dump(data, sort_keys=False).encode("utf-8")


def load(data, **kwargs):
    kwargs.setdefault("source", SOURCE)
    kwargs.setdefault("base_url", SOURCE)
    return load_manifest(data if isinstance(data, bytes) else dump(data), **kwargs)


def test_valid_manifest_parses():
    manifest = load(base())
    assert manifest.release == "2026.11.0"
    assert manifest.issued == datetime.datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    assert manifest.expires == datetime.datetime(2026, 12, 23, 10, 0, tzinfo=UTC)
    assert manifest.description == "November release"
    assert [c.name for c in manifest.components] == ["hello-web", "redis"]
    web = manifest.by_name["hello-web"]
    assert (web.version, web.kind, web.description) == ("1.2.0", "compose", "web front")
    assert web.requires == {"components": {"redis": ">=7,<8"}, "host": {"docker": ">=20.10"}}
    arts = dict((a.name, a) for a in web.artifacts)
    # Relative URLs (implicit = the name, or explicit) resolve against the manifest URL.
    assert arts["hello-web-1.2.0.tar.gz"].url == "https://releases.example.invalid/bundles/2026.11.0/hello-web-1.2.0.tar.gz"
    assert arts["bundle.tar.xz"].url == "https://releases.example.invalid/bundles/2026.11.0/sub/bundle.tar.xz"
    assert arts["hello.env"].url == "https://mirror.example.invalid/x/hello.env"
    # Digests normalised to lower case, algorithm kept.
    assert (arts["hello.env"].algorithm, arts["hello.env"].digest) == ("sha512", SHA512)
    assert (arts["hello-web-1.2.0.tar.gz"].algorithm, arts["hello-web-1.2.0.tar.gz"].size) == ("sha256", 1234)
    # Default unpack by suffix; an explicit false wins over the suffix.
    assert arts["hello-web-1.2.0.tar.gz"].unpack is True
    assert arts["data.tgz"].unpack is True and arts["data.tgz"].unpacked_size == 50
    assert arts["hello.env"].unpack is False
    assert arts["bundle.tar.xz"].unpack is False
    assert manifest.by_name["redis"].artifacts[0].unpack is False
    data = manifest.to_dict()
    assert data["components"][0]["size"] == 1234 + 10 + 0 + 5
    assert data["issued"] == "2026-11-23T10:00:00Z"


def test_yaml_timestamps_and_no_base_url():
    text = dump(base()).replace(b"'2026-11-23T10:00:00Z'", b"2026-11-23T12:00:00+02:00")
    manifest = load_manifest(text, source="local.yaml")
    assert manifest.issued == datetime.datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    # Without a base URL a relative URL stays relative.
    assert manifest.by_name["redis"].artifacts[0].url == "redis.bin"


@pytest.mark.parametrize("suffix, expected", [
    (".tar", True), (".tar.gz", True), (".tgz", True), (".tar.xz", True), (".txz", True),
    (".tar.bz2", True), (".tbz2", True), (".zip", False), (".gz", False), (".bin", False), (".tar.zst", False),
])
def test_default_unpack_by_suffix(suffix, expected):
    data = base()
    data["components"][1]["artifacts"][0]["name"] = "redis" + suffix
    assert load(data).by_name["redis"].artifacts[0].unpack is expected


def comp(data, index=0):
    return data["components"][index]


def art(data, index=0, aindex=0):
    return data["components"][index]["artifacts"][aindex]


def mutate(fn):
    def build():
        data = base()
        fn(data)
        return dump(data)
    return build


def raw(text):
    return lambda: text.encode("utf-8") if isinstance(text, str) else text


def _set(path, value):
    """Mutation setting data[path...] = value (a missing sentinel deletes)."""
    def fn(data):
        target = data
        for key in path[:-1]:
            target = target[key]
        if value is _MISSING:
            del target[path[-1]]
        else:
            target[path[-1]] = value
    return mutate(fn)


_MISSING = object()
A0 = ("components", 0, "artifacts", 0)
ANAME = "hello-web-1.2.0.tar.gz"
MINIMAL = (
    "format: 1\nrelease: '1.0'\nissued: 2026-01-01T00:00:00Z\n"
    "components:\n- name: app\n  version: '1.0'\n  kind: files\n"
    "  artifacts:\n  - {name: a.bin, sha256: %s, size: 1}\n" % SHA256
)

INVALID = [
    # id, builder, component, expected fragments
    ("not-yaml", raw("format: 1\nrelease: [\n"), None, ["not valid YAML"]),
    ("not-utf8", raw(b"format: 1\nrelease: \xff\xfe\n"), None, ["not UTF-8"]),
    ("not-mapping-list", raw("- a\n- b\n"), None, ["must be a YAML mapping"]),
    ("not-mapping-scalar", raw("just text\n"), None, ["must be a YAML mapping"]),
    ("empty", raw(""), None, ["must be a YAML mapping"]),
    ("unknown-top-field", _set(("signature",), "xyz"), None, ["unknown field(s) signature"]),
    ("format-3", _set(("format",), 3), None, ["unsupported bundle format 3"]),
    ("format-missing", _set(("format",), _MISSING), None, ["unsupported bundle format None"]),
    ("format-string", _set(("format",), "1"), None, ["unsupported bundle format '1'"]),
    ("format-bool", _set(("format",), True), None, ["unsupported bundle format True"]),
    ("format-float", _set(("format",), 1.0), None, ["unsupported bundle format 1.0"]),
    ("release-missing", _set(("release",), _MISSING), None, ["release must be a string"]),
    ("release-word", _set(("release",), "latest"), None, ["release 'latest' is not a valid version"]),
    ("release-path", _set(("release",), "1.0/../../x"), None, ["release '1.0/../../x' is not allowed"]),
    ("release-dots", _set(("release",), "1..0"), None, ["release '1..0' is not allowed"]),
    ("release-list", _set(("release",), ["1.0"]), None, ["release must be a string, got list"]),
    ("release-float", raw(MINIMAL.replace("release: '1.0'", "release: 1.10")), None,
     ["release must be a quoted string", "1.10"]),
    ("release-int", raw(MINIMAL.replace("release: '1.0'", "release: 2026")), None,
     ["release must be a quoted string", "2026"]),
    ("duplicate-top-key", raw(MINIMAL + "release: '2.0'\n"), None, ["duplicate key 'release'"]),
    ("duplicate-component-key", raw(MINIMAL.replace("  kind: files\n", "  kind: files\n  kind: compose\n")), None,
     ["duplicate key 'kind'"]),
    ("issued-missing", _set(("issued",), _MISSING), None, ["must say when it was issued"]),
    ("issued-bad", _set(("issued",), "yesterday"), None, ["issued 'yesterday' is not an ISO 8601 time"]),
    ("issued-number", _set(("issued",), 1700000000), None, ["issued must be an ISO 8601 time"]),
    ("expires-bad", _set(("expires",), "2026-13-45"), None, ["expires '2026-13-45' is not an ISO 8601 time"]),
    ("expires-before-issued", _set(("expires",), "2026-11-22T10:00:00Z"), None,
     ["expires (2026-11-22T10:00:00Z) is not after issued (2026-11-23T10:00:00Z)"]),
    ("expires-equals-issued", _set(("expires",), "2026-11-23T10:00:00Z"), None, ["is not after issued"]),
    ("components-missing", _set(("components",), _MISSING), None, ["at least one component"]),
    ("components-empty", _set(("components",), []), None, ["at least one component"]),
    ("components-mapping", _set(("components",), {"a": 1}), None, ["at least one component"]),
    ("component-not-mapping", _set(("components", 1), "redis"), None, ["component #2 must be a mapping"]),
    ("component-duplicate", mutate(lambda d: d["components"].append(copy.deepcopy(d["components"][1]))), None,
     ["component 'redis' is listed twice"]),
    ("name-traversal", _set(("components", 0, "name"), "../../etc"), None, ["component #1 has an invalid name '../../etc'"]),
    ("name-upper", _set(("components", 0, "name"), "UPPER"), None, ["component #1 has an invalid name 'UPPER'"]),
    ("name-slash", _set(("components", 0, "name"), "a/b"), None, ["invalid name 'a/b'"]),
    ("name-empty", _set(("components", 0, "name"), ""), None, ["invalid name ''"]),
    ("name-missing", _set(("components", 0, "name"), _MISSING), None, ["invalid name None"]),
    ("name-hidden", _set(("components", 0, "name"), ".groundwork"), None, ["invalid name '.groundwork'"]),
    ("name-dotdot", _set(("components", 0, "name"), "a..b"), None, ["invalid name 'a..b'"]),
    ("name-too-long", _set(("components", 0, "name"), "a" * 65), None, ["invalid name"]),
    ("name-number", _set(("components", 0, "name"), 7), None, ["invalid name 7"]),
    ("version-dotdot", _set(("components", 0, "version"), "1..2"), "hello-web", ["version '1..2' is not allowed"]),
    ("version-slash", _set(("components", 0, "version"), "1/2"), "hello-web", ["version '1/2' is not allowed"]),
    ("version-traversal", _set(("components", 0, "version"), "../1"), "hello-web", ["version '../1' is not allowed"]),
    ("version-current", _set(("components", 0, "version"), "current"), "hello-web", ["version 'current' is not a valid version"]),
    ("version-missing", _set(("components", 0, "version"), _MISSING), "hello-web", ["version must be a string"]),
    ("version-float", _set(("components", 0, "version"), 1.5), "hello-web", ["version must be a quoted string"]),
    ("kind-unknown", _set(("components", 0, "kind"), "docker"), "hello-web", ["kind 'docker' is not one of", "compose"]),
    ("kind-missing", _set(("components", 0, "kind"), _MISSING), "hello-web", ["kind None is not one of"]),
    ("component-unknown-field", _set(("components", 0, "image"), "x"), "hello-web", ["unknown field(s) image"]),
    ("artifacts-missing", _set(("components", 0, "artifacts"), _MISSING), "hello-web", ["at least one artifact"]),
    ("artifacts-empty", _set(("components", 0, "artifacts"), []), "hello-web", ["at least one artifact"]),
    ("artifact-not-mapping", _set(A0, "x.tar"), "hello-web", ["artifact #1 must be a mapping"]),
    ("artifact-name-slash", _set(A0 + ("name",), "a/b.tar"), "hello-web", ["artifact #1 has an invalid file name 'a/b.tar'"]),
    ("artifact-name-traversal", _set(A0 + ("name",), "../x"), "hello-web", ["invalid file name '../x'"]),
    ("artifact-name-dotdot", _set(A0 + ("name",), ".."), "hello-web", ["invalid file name '..'"]),
    ("artifact-name-inner-dotdot", _set(A0 + ("name",), "a..tar"), "hello-web", ["invalid file name 'a..tar'"]),
    ("artifact-name-missing", _set(A0 + ("name",), _MISSING), "hello-web", ["invalid file name None"]),
    ("artifact-duplicate", mutate(lambda d: comp(d)["artifacts"].append(dict(art(d)))), "hello-web",
     ["artifact '%s' is listed twice" % ANAME]),
    ("size-missing", _set(A0 + ("size",), _MISSING), "hello-web", ["artifact '%s' must declare its size" % ANAME]),
    ("size-negative", _set(A0 + ("size",), -1), "hello-web", ["artifact '%s' size must be a whole number of bytes >= 0, got -1" % ANAME]),
    ("size-bool", _set(A0 + ("size",), True), "hello-web", ["size must be a whole number", "got True"]),
    ("size-string", _set(A0 + ("size",), "12"), "hello-web", ["size must be a whole number", "got '12'"]),
    ("size-float", _set(A0 + ("size",), 1.5), "hello-web", ["size must be a whole number", "got 1.5"]),
    ("unpacked-size-negative", _set(A0 + ("unpacked_size",), -5), "hello-web", ["unpacked_size must be a whole number"]),
    ("hash-both", _set(A0 + ("sha512",), SHA512), "hello-web", ["artifact '%s' must declare exactly one of sha256 or sha512" % ANAME]),
    ("hash-none", _set(A0 + ("sha256",), _MISSING), "hello-web", ["must declare exactly one of sha256 or sha512"]),
    ("hash-short", _set(A0 + ("sha256",), "ab" * 31), "hello-web", ["artifact '%s' has a malformed sha256 (expected 64 hex digits)" % ANAME]),
    ("hash-not-hex", _set(A0 + ("sha256",), "zz" * 32), "hello-web", ["malformed sha256"]),
    ("hash-sha512-length", mutate(lambda d: (art(d).pop("sha256"), art(d).update(sha512=SHA256))), "hello-web",
     ["malformed sha512 (expected 128 hex digits)"]),
    ("hash-number", _set(A0 + ("sha256",), 12345), "hello-web", ["malformed sha256"]),
    ("weak-md5", mutate(lambda d: (art(d).pop("sha256"), art(d).update(md5="ab" * 16))), "hello-web",
     ["unsupported hash algorithm md5", "sha256 or sha512 only"]),
    ("weak-sha1", mutate(lambda d: (art(d).pop("sha256"), art(d).update(sha1="ab" * 20))), "hello-web",
     ["unsupported hash algorithm sha1"]),
    ("weak-checksum", mutate(lambda d: (art(d).pop("sha256"), art(d).update(checksum="ab" * 32))), "hello-web",
     ["unsupported hash algorithm checksum"]),
    ("weak-beside-strong", _set(A0 + ("md5",), "ab" * 16), "hello-web", ["unsupported hash algorithm md5"]),
    ("weak-upper", mutate(lambda d: (art(d).pop("sha256"), art(d).update(SHA1="ab" * 20))), "hello-web",
     ["unsupported hash algorithm SHA1"]),
    ("url-ftp", _set(A0 + ("url",), "ftp://files.example.invalid/x.tar.gz"), "hello-web",
     ["artifact '%s' url scheme 'ftp' is not supported" % ANAME]),
    ("url-javascript", _set(A0 + ("url",), "javascript:alert(1)"), "hello-web", ["url scheme 'javascript' is not supported"]),
    ("url-data", _set(A0 + ("url",), "data:text/plain,hi"), "hello-web", ["url scheme 'data' is not supported"]),
    ("url-newline", _set(A0 + ("url",), "a\nb"), "hello-web", ["has an invalid url"]),
    ("url-empty", _set(A0 + ("url",), ""), "hello-web", ["has an invalid url"]),
    ("unpack-string", _set(A0 + ("unpack",), "yes"), "hello-web", ["unpack must be true or false"]),
    ("artifact-unknown-field", _set(A0 + ("mode",), "0755"), "hello-web", ["unknown field(s) mode"]),
    ("requires-list", _set(("components", 0, "requires"), ["redis"]), "hello-web", ["requires must be a mapping"]),
    ("requires-unknown", _set(("components", 0, "requires", "os"), {"debian": "12"}), "hello-web",
     ["requires has unknown field(s) os"]),
    ("requires-components-list", _set(("components", 0, "requires", "components"), ["redis"]), "hello-web",
     ["requires.components and requires.host must be mappings"]),
    ("requires-host-string", _set(("components", 0, "requires", "host"), "docker"), "hello-web",
     ["requires.components and requires.host must be mappings"]),
    ("requires-bad-constraint", _set(("components", 0, "requires", "components", "redis"), ">>1"), "hello-web",
     ["requirement on component 'redis' '>>1' is not a valid version constraint"]),
    ("requires-bad-host-constraint", _set(("components", 0, "requires", "host", "docker"), "newest"), "hello-web",
     ["requirement on host capability 'docker' 'newest' is not a valid version constraint"]),
    ("requires-number-constraint", _set(("components", 0, "requires", "components", "redis"), 7), "hello-web",
     ["must be a version constraint string", "got 7"]),
    ("requires-bad-name", _set(("components", 0, "requires", "components", "../x"), ">=1"), "hello-web",
     ["requires.components names an invalid component '../x'"]),
    ("requires-bad-capability", _set(("components", 0, "requires", "host", "Docker-Engine"), ">=1"), "hello-web",
     ["requires.host names an invalid capability 'Docker-Engine'"]),
    ("requires-self", _set(("components", 0, "requires", "components", "hello-web"), ">=1"), "hello-web",
     ["component requires itself"]),
]


@pytest.mark.parametrize("builder, component, fragments", [c[1:] for c in INVALID], ids=[c[0] for c in INVALID])
def test_invalid_manifest(builder, component, fragments):
    with pytest.raises(ManifestError) as info:
        load(builder())
    err = info.value
    assert err.file == SOURCE
    assert err.component == component
    text = str(err)
    assert ("file '%s'" % SOURCE) in text
    if component:
        assert ("component '%s'" % component) in text
    for fragment in fragments:
        assert fragment in text
    assert err.to_dict()["kind"] == "manifest"


def test_artifact_error_names_component_and_file_position():
    data = base()
    data["components"][1]["artifacts"][0]["sha256"] = "00"
    with pytest.raises(ManifestError) as info:
        load(data)
    assert str(info.value) == (
        "component 'redis', file '%s': artifact 'redis.bin' has a malformed sha256 (expected 64 hex digits)" % SOURCE)


def test_manifest_size_cap_checked_before_parsing():
    data = dump(base())
    with pytest.raises(ManifestError) as info:
        load(data, max_size=len(data) - 1)
    assert "manifest is %d bytes, over the %d byte limit" % (len(data), len(data) - 1) in str(info.value)
    # Exactly at the limit is fine.
    assert load(data, max_size=len(data)).release == "2026.11.0"
    # The default cap: a megabyte of padding that would otherwise be valid YAML (a comment).
    padded = data + b"#" + b"x" * MAX_MANIFEST_SIZE + b"\n"
    with pytest.raises(ManifestError) as info:
        load(padded)
    assert "over the %d byte limit" % MAX_MANIFEST_SIZE in str(info.value)


def test_yaml_tags_refused():
    text = dump(base()) + b"x: !!python/object/apply:os.system ['true']\n"
    with pytest.raises(ManifestError) as info:
        load(text)
    assert "not valid YAML" in str(info.value)


# -- expiry (threat 5) --------------------------------------------------------

def test_expired_manifest_refused_and_override():
    manifest = load(base())
    now = datetime.datetime(2027, 1, 2, 3, 4, 5, tzinfo=UTC)
    with pytest.raises(ManifestError) as info:
        manifest.check_expiry(now=now)
    text = str(info.value)
    assert "release 2026.11.0 expired at 2026-12-23T10:00:00Z (now 2027-01-02T03:04:05Z)" in text
    assert "allow_expired" in text
    assert info.value.file == SOURCE
    manifest.check_expiry(now=now, allow_expired=True)
    manifest.check_expiry(now=datetime.datetime(2026, 12, 1, tzinfo=UTC))
    # Without an explicit time the real clock is used.
    data = base()
    data["issued"], data["expires"] = "2020-01-01T00:00:00Z", "2020-02-01T00:00:00Z"
    with pytest.raises(ManifestError, match="expired at 2020-02-01T00:00:00Z"):
        load(data).check_expiry()


def test_manifest_without_expires_never_expires():
    data = base()
    del data["expires"]
    manifest = load(data)
    assert manifest.expires is None
    manifest.check_expiry(now=datetime.datetime(2099, 1, 1, tzinfo=UTC))


# -- selection and compatibility (threats 6, 16) -------------------------------

def test_select_unknown_lists_offer():
    manifest = load(base())
    assert [c.name for c in manifest.select(["redis"])] == ["redis"]
    assert [c.name for c in manifest.select(["redis", "hello-web"])] == ["hello-web", "redis"]
    assert [c.name for c in manifest.select([])] == ["hello-web", "redis"]
    with pytest.raises(ManifestError) as info:
        manifest.select(["redis", "postgres", "kafka"])
    text = str(info.value)
    assert "release 2026.11.0 has no component(s) kafka, postgres" in text
    assert "it offers: hello-web, redis" in text


def component(name, version, components=None, host=None):
    return Component(name, version, "files", [Artifact(name + ".bin", name + ".bin", "sha256", SHA256, 1, False)],
                     components or {}, host or {})


def test_every_unmet_requirement_reported_at_once():
    web = component("web", "1.0", components={"db": ">=2", "cache": ">=1"}, host={"docker": ">=24", "k3s": ">=1.30"})
    db = component("db", "1.5")
    problems = check_compatibility([web, db], host_capabilities={"docker": "20.10.24+dfsg1"})
    assert problems == [
        "web 1.0 requires cache >=1, which is neither selected nor installed",
        "web 1.0 requires db >=2, but db 1.5 would be installed",
        "web 1.0 requires host docker >=24, but the host has 20.10.24+dfsg1",
        "web 1.0 requires host k3s >=1.30, but the host's k3s version is unknown",
    ]
    with pytest.raises(CompatibilityError) as info:
        assert_compatible([web, db], host_capabilities={"docker": "20.10.24+dfsg1"}, file=SOURCE)
    err = info.value
    assert err.problems == problems
    assert str(err).startswith("file '%s': 4 unmet requirement(s): " % SOURCE)
    assert err.to_dict()["problems"] == problems


def test_compatible_set_passes():
    web = component("web", "1.0", components={"db": ">=2,<3"}, host={"docker": ">=20.10", "k3s": ">=1.30,<1.31"})
    db = component("db", "2.4.1")
    caps = {"docker": "26.1.5+dfsg1-9+b9", "k3s": "v1.30.2+k3s1"}
    assert check_compatibility([web, db], host_capabilities=caps) == []
    assert_compatible([web, db], host_capabilities=caps)


def test_installed_components_still_constrain():
    redis8 = component("redis", "8.0.0")
    installed = {"app": {"version": "1.0", "requires": {"components": {"redis": "<8"}}}}
    assert check_compatibility([redis8], installed=installed) == [
        "app 1.0 requires redis <8, but redis 8.0.0 would be installed"]
    # ... and an installed component can be the one that is too old.
    app2 = component("app", "2.0", components={"redis": ">=7"})
    assert check_compatibility([app2], installed={"redis": {"version": "6.2.1", "requires": {}}}) == [
        "app 2.0 requires redis >=7, but redis 6.2.1 is installed"]
    # A selected component replaces its installed namesake.
    assert check_compatibility([redis8], installed={"redis": {"version": "6.0"}, "app": {
        "version": "2.0", "requires": {"components": {"redis": ">=8"}}}}) == []


def test_installed_host_requirements_judged_only_when_known():
    motd = component("motd", "1.0")
    installed = {"web": {"version": "1.0", "requires": {"host": {"docker_engine": ">=20.10"}}}}
    # Delivering something else, in a play that did not measure Docker: not refused.
    assert check_compatibility([motd], installed=installed) == []
    # A measured capability that breaks the installed component is still reported.
    assert check_compatibility([motd], installed=installed, host_capabilities={"docker_engine": "19.03"}) == [
        "web 1.0 requires host docker_engine >=20.10, but the host has 19.03"]
    # A selected component's requirement on an unknown capability is still refused.
    web2 = component("web", "2.0", host={"docker_engine": ">=20.10"})
    assert check_compatibility([web2], installed=installed) == [
        "web 2.0 requires host docker_engine >=20.10, but the host's docker_engine version is unknown"]


@pytest.mark.parametrize("reported, spec, ok", [
    ("20.10.24+dfsg1", ">=20.10", True),
    ("20.10.24+dfsg1", ">=20.10.25", False),
    ("20.10.24+dfsg1", "<=20.10.24", True),
    ("20.10.24+dfsg1", "==20.10.24", True),
    ("20.10.24+dfsg1", ">=24", False),
    ("v1.30.2+k3s1", ">=1.30,<1.31", True),
    ("v1.30.2+k3s1", ">=1.31", False),
    ("v1.30.2+k3s1", ">1.30.1", True),
    ("26.1.5+dfsg1-9+b9", ">=26.1,<27", True),
    ("26.1.5+dfsg1-9+b9", ">=26.1.6", False),
    ("26.1.5+dfsg1-9+b9", ">=26.1.5", True),
    ("252 (252.22-1~deb12u1)", ">=250", True),
    ("252 (252.22-1~deb12u1)", ">=253", False),
    ("6.1.0-18-amd64", ">=6.1", True),
    ("3.11.2", ">=3.9", True),
    ("3.9.2", ">=3.10", False),
    # Whole version strings as tools print them.
    ("k3s version v1.30.2+k3s1 (aa4794b3)", ">=1.30,<1.31", True),
    ("Docker version 26.1.5+dfsg1, build a72d7cd", ">=26.1", True),
    # Debian package versions with an epoch (dpkg-query): the epoch is not the version.
    ("5:24.0.7-1~debian.12~bookworm", ">=24,<25", True),
    ("1:2.39.2-1", ">=2.30", True),
])
def test_host_versions_compare(reported, spec, ok):
    web = component("web", "1.0", host={"engine": spec})
    problems = check_compatibility([web], host_capabilities={"engine": reported})
    assert (problems == []) is ok, problems
    if not ok:
        assert problems == ["web 1.0 requires host engine %s, but the host has %s" % (spec, reported)]


@pytest.mark.parametrize("reported, expected", [
    ("20.10.24+dfsg1", "20.10.24+dfsg1"),
    ("v1.30.2+k3s1", "1.30.2+k3s1"),
    ("26.1.5+dfsg1-9+b9", "26.1.5"),
    ("k3s version v1.30.2+k3s1 (aa4794b3)", "1.30.2"),
    ("5:24.0.7-1~debian.12~bookworm", "24.0.7"),
    (252, "252"),
    ("unknown", None),
    ("", None),
    (None, None),
])
def test_host_version_parsing(reported, expected):
    got = host_version(reported)
    assert (str(got) if got is not None else None) == expected


def test_check_host_false_skips_host_requirements():
    web = component("web", "1.0", components={"db": ">=2"}, host={"docker": ">=99"})
    assert check_compatibility([web, component("db", "2.0")], check_host=False) == []
    # Component requirements are still checked.
    assert check_compatibility([web], check_host=False) == ["web 1.0 requires db >=2, which is neither selected nor installed"]
    assert check_compatibility([web, component("db", "2.0")], host_capabilities={"docker": "98"}) == [
        "web 1.0 requires host docker >=99, but the host has 98"]


def test_prerelease_component_versions_satisfy_ranges():
    web = component("web", "1.0", components={"db": ">=2"})
    assert check_compatibility([web, component("db", "2.1.0rc1")]) == []
    assert check_compatibility([web, component("db", "2.0.0rc1")]) == [
        "web 1.0 requires db >=2, but db 2.0.0rc1 would be installed"]


@pytest.mark.parametrize("a, b, expected", [
    ("1.0.0", "1.0.0", 0),
    ("1.0", "1.0.0", 0),
    ("2.0.0", "1.9.9", 1),
    ("1.9", "1.10", -1),
    ("2026.2.0", "2026.11.0", -1),
    ("2.0.0rc1", "2.0.0", -1),
    ("2.0.0rc1", "2.0.0b3", 1),
    ("2.0.0a1", "2.0.0b1", -1),
    ("2.0.0.dev1", "2.0.0a1", -1),
    ("2.0.0.post1", "2.0.0", 1),
    ("2.0.0", "1.99.0rc9", 1),
])
def test_compare_releases(a, b, expected):
    assert compare_releases(a, b) == expected
    first, second = b, a  # the same pair the other way round
    assert compare_releases(first, second) == -expected


def test_compare_releases_refuses_invalid():
    with pytest.raises(ManifestError, match="release 'latest' is not a valid version"):
        compare_releases("latest", "1.0")


# -- threat 22: full-match name patterns ----------------------------------------------------------

def _set(path, value):
    data = base()
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return data


@pytest.mark.parametrize("path,value,text", [
    (("release",), "2026.11.0\n", "release '2026.11.0\n' is not allowed"),
    (("components", 0, "version"), "1.2.0\n", "version '1.2.0\n' is not allowed"),
    (("components", 1, "name"), "redis\n", "invalid name 'redis\\n'"),
    (("components", 1, "artifacts", 0, "name"), "redis.bin\n", "invalid file name 'redis.bin\\n'"),
    (("components", 0, "requires", "components"), {"redis\n": ">=7"}, "invalid component 'redis\\n'"),
    (("components", 0, "requires", "host"), {"docker\n": ">=20"}, "invalid capability 'docker\\n'"),
    (("components", 0, "artifacts", 0, "sha256"), SHA256 + "\n", "malformed sha256"),
    (("components", 1, "name"), "redis\x85", "invalid name 'redis\\x85'"),
])
def test_row22_trailing_newline_and_c1_in_manifest_names(path, value, text):
    """Row 22: '$' matched before a final newline, so '1.2.0\\n' passed the patterns and became a
    directory name on hosts; every name is now matched whole (re.fullmatch, \\Z)."""
    with pytest.raises(ManifestError) as info:
        load(_set(path, value))
    assert text in info.value.reason


# -- threat 23: artifact locations stay under the manifest's base or its declared base_url ----------

def _one_artifact(url, base_url=None):
    data = base()
    data.pop("base_url")
    if base_url is not None:
        data["base_url"] = base_url
    data["components"] = [{"name": "web", "version": "1.0.0", "kind": "files",
                           "artifacts": [{"name": "web.bin", "url": url, "sha256": SHA256, "size": 1}]}]
    return data


@pytest.mark.parametrize("url,text", [
    ("file:///etc/passwd", "is a controller file, but the manifest was not read from one"),
    ("file:web.bin", "is a controller file"),
    ("../../etc/passwd", "is outside the release"),
    ("../2026.10.0/web.bin", "is outside the release"),
    ("%2e%2e/%2e%2e/secret", "'..' or '.' segment"),
    ("sub/%2E%2E/%2e%2e/x", "'..' or '.' segment"),
    ("https://evil.example.invalid/bundles/2026.11.0/web.bin", "is outside the release"),
    ("http://releases.example.invalid/bundles/2026.11.0/web.bin", "is outside the release"),
    ("//evil.example.invalid/web.bin", "is outside the release"),
])
def test_row23_remote_manifest_cannot_name_files_outside_its_base(url, text):
    """Row 23: a manifest read from a server may not name controller files (file://) nor reach out of
    its directory ('../', percent-encoded dots, another host or scheme)."""
    with pytest.raises(ManifestError) as info:
        load(_one_artifact(url))
    assert text in info.value.reason
    assert info.value.component == "web"


def test_row23_declared_base_url_allows_a_mirror():
    """Row 23: the base_url the release declares is the other allowed root; only http(s)."""
    mirror = "https://mirror.example.invalid/pool/"
    manifest = load(_one_artifact(mirror + "web/web.bin", base_url=mirror))
    assert manifest.components[0].artifacts[0].url == mirror + "web/web.bin"
    assert load(_one_artifact("web.bin", base_url=mirror)).components[0].artifacts[0].url == SOURCE.rsplit("/", 1)[0] + "/web.bin"
    with pytest.raises(ManifestError, match="is outside the release"):
        load(_one_artifact("https://mirror.example.invalid/other/web.bin", base_url=mirror))
    for declared in ("file:///etc/", "ftp://mirror.example.invalid/", "pool/"):
        with pytest.raises(ManifestError, match="base_url .* must be an http:// or https:// URL"):
            load(_one_artifact(mirror + "web.bin", base_url=declared))


def test_row23_local_manifest_file_artifacts_are_contained(tmp_path):
    """Row 23: a local manifest may use file:// and relative locations, but only inside its directory,
    and not through a symlink that leads out of it."""
    release = tmp_path / "release"
    (release / "sub").mkdir(parents=True)
    (release / "web.bin").write_bytes(b"x")
    (tmp_path / "secret").write_bytes(b"s")
    os.symlink(str(tmp_path / "secret"), str(release / "leak.bin"))
    url = (release / "manifest.yaml").as_uri()

    def parse(location):
        return load(_one_artifact(location), source=url, base_url=url).components[0].artifacts[0].url

    assert parse("web.bin") == (release / "web.bin").as_uri()
    assert parse((release / "web.bin").as_uri()) == (release / "web.bin").as_uri()
    for location, text in (("../secret", "is outside the release"), ((tmp_path / "secret").as_uri(), "is outside the release"),
                           ("file:///etc/passwd", "is outside the release"), ("leak.bin", "through a symlink"),
                           ("sub/%2e%2e/%2e%2e/secret", "'..' or '.' segment")):
        with pytest.raises(ManifestError) as info:
            parse(location)
        assert text in info.value.reason, location
