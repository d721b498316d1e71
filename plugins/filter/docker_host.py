# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Decisions of the groundwork.infra.docker_host role, kept out of Jinja so that they can be tested.

- ``docker_host_planned``: which engine and Compose versions a run will leave on the host (the
  pinned version, else the installed one, else apt's candidate), for the bundles' compatibility
  check before anything is installed.
- ``docker_host_capabilities``: the versions that run after the role, for the bundles'
  compatibility checks of later roles (the running engine and Compose, else the planned ones).

Both read the result of groundwork.infra.docker_versions_info.

- ``docker_host_daemon_config``: the engine's ``daemon.json`` from the role's daemon settings
  (the root engine's ``/etc/docker/daemon.json`` and the rootless engine's
  ``~/.config/docker/daemon.json``).
- ``docker_host_subid_range``: the subordinate id range (``/etc/subuid``, ``/etc/subgid``) of the
  rootless engine's user: the user's own range when it has one large enough, else the first free
  range after every other user's.
- ``docker_host_privileged_ports``: the ports a compose file publishes below the host's
  ``net.ipv4.ip_unprivileged_port_start``, which a rootless engine cannot bind.
- ``docker_host_rootless_engine``: where the rootless engine of a user lives (its runtime
  directory, socket and the environment its CLI needs), from the user's passwd entry; the role
  and playbooks/status.yml both find the engine through it.
"""

from __future__ import annotations

import re

import yaml

from ansible.errors import AnsibleFilterError

_EPOCH_RE = re.compile(r"^[0-9]+:")


def _upstream(version):
    """A Debian version without its epoch (``5:27.3.1-1~debian.13~trixie`` -> ``27.3.1-1~debian.13~trixie``)."""
    return _EPOCH_RE.sub("", version or "")


def _planned(package, pin, installed, candidates):
    if pin:
        return _upstream(pin)
    dpkg = (installed or {}).get(package) or {}
    if dpkg.get("installed") and dpkg.get("version"):
        return _upstream(dpkg["version"])
    policy = (candidates or {}).get(package) or {}
    return _upstream(policy.get("installed") or policy.get("candidate") or "")


def docker_host_planned(installed, candidates, packages, engine_pin="", compose_pin=""):
    """{docker_engine, docker_compose}: the versions this run will leave; '' where apt knows none.

    ``installed`` and ``candidates``: results of groundwork.infra.docker_versions_info (the
    ``packages`` and the ``candidates`` read; a skipped read counts as nothing known).
    ``packages``: {engine, compose} package names.
    """
    if not isinstance(packages, dict) or not packages.get("engine") or not packages.get("compose"):
        raise AnsibleFilterError("docker_host_planned: packages must name the engine and compose packages, not %r" % (packages,))
    dpkg = (installed or {}).get("packages") or {}
    policy = (candidates or {}).get("candidates") or {}
    return {"docker_engine": _planned(packages["engine"], engine_pin, dpkg, policy),
            "docker_compose": _planned(packages["compose"], compose_pin, dpkg, policy)}


def docker_host_capabilities(running, planned):
    """{docker_engine, docker_compose}: the running engine's and Compose's versions from a
    groundwork.infra.docker_versions_info result, the planned ones where they do not answer
    (check mode on a host where nothing is installed yet)."""
    running = running or {}
    planned = planned or {}
    return {"docker_engine": running.get("server_version") or planned.get("docker_engine", ""),
            "docker_compose": running.get("compose_version") or planned.get("docker_compose", "")}


# Log drivers that rotate their files (log-opts max-size and max-file).
_ROTATING_LOG_DRIVERS = ("json-file", "local")
# daemon.json key per setting that is written only when set (non-empty).
_OPTIONAL_KEYS = (("data_root", "data-root"), ("registry_mirrors", "registry-mirrors"),
                  ("insecure_registries", "insecure-registries"),
                  ("default_address_pools", "default-address-pools"), ("dns", "dns"))


def _merge(base, extra):
    """``base`` updated by ``extra``, dictionaries merged key by key (as combine(recursive=True))."""
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def docker_host_daemon_config(settings):
    """daemon.json as a dict, from the role's daemon settings.

    ``settings``: log_driver, log_max_size, log_max_file, live_restore, data_root, registry_mirrors,
    insecure_registries, default_address_pools, dns (the docker_host_daemon_* variables without
    their prefix) and extra (merged last, recursively). log-opts only for the drivers that rotate
    files; the optional keys only when set.
    """
    if not isinstance(settings, dict):
        raise AnsibleFilterError("docker_host_daemon_config: the settings must be a dict, not %r" % (settings,))
    missing = [name for name in ("log_driver", "live_restore") if name not in settings]
    if missing:
        raise AnsibleFilterError("docker_host_daemon_config: settings lack %s" % ", ".join(missing))
    extra = settings.get("extra") or {}
    if not isinstance(extra, dict):
        raise AnsibleFilterError("docker_host_daemon_config: extra must be a dict of daemon.json keys, not %r" % (extra,))
    config = {"log-driver": settings["log_driver"], "live-restore": settings["live_restore"]}
    if settings["log_driver"] in _ROTATING_LOG_DRIVERS:
        config["log-opts"] = {"max-size": str(settings.get("log_max_size", "10m")),
                              "max-file": str(settings.get("log_max_file", 3))}
    for name, key in _OPTIONAL_KEYS:
        if settings.get(name):
            config[key] = settings[name]
    return _merge(config, extra)


def _subid_ranges(text):
    """[(name, start, count)] of the lines of an /etc/subuid or /etc/subgid text."""
    ranges = []
    for number, line in enumerate((text or "").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        fields = line.split(":")
        if len(fields) != 3 or not fields[1].isdigit() or not fields[2].isdigit():
            raise AnsibleFilterError("docker_host_subid_range: line %d is not name:start:count: %r" % (number, line))
        ranges.append((fields[0], int(fields[1]), int(fields[2])))
    return ranges


def docker_host_subid_range(text, user, count=65536, first=100000, uid=None):
    """{start, count, line, existing}: the subordinate id range of ``user`` in the /etc/subuid or
    /etc/subgid ``text``.

    The user's largest range when it has ``count`` ids or more (``existing`` true: nothing to
    write), else a new range of ``count`` ids starting at ``first`` or after the end of every
    other range, whichever is later. A range may name the user by login or by ``uid``.
    """
    if not user:
        raise AnsibleFilterError("docker_host_subid_range: a user name is needed")
    count = int(count)
    if count < 1:
        raise AnsibleFilterError("docker_host_subid_range: count must be positive, not %d" % count)
    names = set([user] + ([str(uid)] if uid is not None else []))
    ranges = _subid_ranges(text)
    own = sorted((r for r in ranges if r[0] in names and r[2] >= count), key=lambda r: -r[2])
    if own:
        name, start, size = own[0]
        return {"start": start, "count": size, "line": "%s:%d:%d" % (name, start, size), "existing": True}
    start = max([int(first)] + [s + n for name, s, n in ranges if name not in names])
    return {"start": start, "count": count, "line": "%s:%d:%d" % (user, start, count), "existing": False}


_VAR_RE = re.compile(r"\$(?:\$|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])((?:[^{}]|\{[^{}]*\})*))?\}|([A-Za-z_][A-Za-z0-9_]*))")


def _interpolate(value, env):
    """Compose's ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:+alt}, $VAR and $$ in ``value``."""
    def repl(match):
        if match.group(0) == "$$":
            return "$"
        name = match.group(1) or match.group(4)
        op, arg = match.group(2), match.group(3) or ""
        value = env.get(name)
        if op in (":-", ":?"):
            return str(value) if value not in (None, "") else (arg if op == ":-" else "")
        if op in ("-", "?"):
            return str(value) if value is not None else (arg if op == "-" else "")
        if op == ":+":
            return arg if value not in (None, "") else ""
        if op == "+":
            return arg if value is not None else ""
        return "" if value is None else str(value)
    return _VAR_RE.sub(repl, value) if isinstance(value, str) else value


def _published(port):
    """The host ports (first of a range) a compose ports entry publishes; [] when it publishes none."""
    if isinstance(port, dict):
        published = port.get("published")
        return [] if published in (None, "") else [str(published)]
    text = str(port).split("/", 1)[0]
    if text.startswith("["):  # [::1]:80:8080
        text = text.split("]", 1)[1].lstrip(":")
    fields = text.split(":")
    if len(fields) < 2:
        return []  # only the container port: the engine picks a free host port
    return [fields[-2]] if fields[-2] else []


def docker_host_privileged_ports(compose, env=None, unprivileged_port_start=1024):
    """["service web: 80", ...]: the published host ports of a compose file (YAML text or parsed)
    below ``unprivileged_port_start``, after interpolating ``env`` (the project's .env variables).
    A rootless engine (rootlesskit binds them as its user) cannot publish them."""
    data = yaml.safe_load(compose) if isinstance(compose, str) else compose
    if not isinstance(data, dict):
        raise AnsibleFilterError("docker_host_privileged_ports: the compose file is not a mapping")
    env = dict((str(k), "" if v is None else str(v)) for k, v in (env or {}).items())
    start = int(unprivileged_port_start)
    found = []
    for name, service in sorted((data.get("services") or {}).items()):
        for port in (service or {}).get("ports") or []:
            port = dict((k, _interpolate(v, env)) for k, v in port.items()) if isinstance(port, dict) else _interpolate(port, env)
            for published in _published(port):
                first = published.split("-", 1)[0]
                if not first.isdigit():
                    raise AnsibleFilterError("docker_host_privileged_ports: service %s publishes port %r, which is not a number" % (name, published))
                if int(first) < start:
                    found.append("service %s: %s" % (name, published))
    return found


def docker_host_rootless_engine(passwd):
    """{uid, group, home, runtime_dir, socket, environment}: the rootless engine of the user whose
    passwd entry (as ansible.builtin.getent reads it: password, uid, gid, gecos, home, shell) is
    ``passwd``. ``uid`` is an int; ``group`` is the user's primary group id as passwd spells it."""
    if not isinstance(passwd, (list, tuple)) or len(passwd) < 5 or not str(passwd[1]).isdigit():
        raise AnsibleFilterError("docker_host_rootless_engine: expected a passwd entry [password, uid, gid, gecos, home, shell], "
                                 "not %r" % (passwd,))
    runtime_dir = "/run/user/%d" % int(passwd[1])
    socket = "unix://%s/docker.sock" % runtime_dir
    return {"uid": int(passwd[1]), "group": passwd[2], "home": passwd[4], "runtime_dir": runtime_dir, "socket": socket,
            # systemctl --user and the engine's CLI find the user's runtime and engine through these.
            "environment": {"XDG_RUNTIME_DIR": runtime_dir, "DOCKER_HOST": socket}}


class FilterModule(object):
    def filters(self):
        return {"docker_host_planned": docker_host_planned, "docker_host_capabilities": docker_host_capabilities,
                "docker_host_daemon_config": docker_host_daemon_config, "docker_host_subid_range": docker_host_subid_range,
                "docker_host_privileged_ports": docker_host_privileged_ports,
                "docker_host_rootless_engine": docker_host_rootless_engine}
