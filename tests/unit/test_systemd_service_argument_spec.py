# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""roles/systemd_service/meta/argument_specs.yml as ansible-core applies it before any task runs.

Found while adding a second service to molecule/systemd_service: with ``default: {}`` on a
service's ``hardening`` dict, ansible-core's validator reused one default dict for every list
element, filled with None by the first, and refused the second service ("value of protect_system
must be one of ... got: None"): any estate with two services without ``hardening`` failed.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

SPECS = Path(__file__).resolve().parents[2] / "roles" / "systemd_service" / "meta" / "argument_specs.yml"


def _spec(option):
    """An argument_specs option -> the spec ArgumentSpecValidator takes (descriptions dropped)."""
    spec = dict((key, value) for key, value in option.items() if key not in ("description", "version_added"))
    if "options" in spec:
        spec["options"] = dict((name, _spec(sub)) for name, sub in spec["options"].items())
    return spec


def _errors(**variables):
    options = yaml.safe_load(SPECS.read_text(encoding="utf-8"))["argument_specs"]["main"]["options"]
    spec = dict((name, _spec(option)) for name, option in options.items())
    return ArgumentSpecValidator(spec).validate(variables).error_messages


def test_several_services_without_hardening_are_accepted():
    services = [{"name": "a", "exec": "bin/a"}, {"name": "b", "exec": "bin/b"}, {"name": "c", "exec": "bin/c"}]
    assert _errors(systemd_service_services=services) == []


def test_a_hardening_typo_is_refused_in_any_service():
    services = [{"name": "a", "exec": "bin/a"}, {"name": "b", "exec": "bin/b", "hardening": {"protect_sytem": "full"}}]
    assert any("protect_sytem" in error for error in _errors(systemd_service_services=services))
    services[1]["hardening"] = {"protect_system": "partly"}
    assert any("protect_system must be one of" in error for error in _errors(systemd_service_services=services))


def test_exec_per_arch_takes_debians_names_only():
    good = {"name": "a", "exec_per_arch": {"amd64": "bin/a", "arm64": "bin/a-arm64"}}
    assert _errors(systemd_service_services=[good, {"name": "b", "exec": "bin/b"}]) == []
    errors = _errors(systemd_service_services=[{"name": "a", "exec_per_arch": {"x86_64": "bin/a"}}])
    assert any("x86_64" in error and "amd64" in error for error in errors), errors
