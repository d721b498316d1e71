# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""execution-environment.yml: ansible-builder 3 accepts it and writes a build context.

Building the image needs the base image from a container registry, which these
machines cannot reach; what can be checked here is checked: the definition is
valid for ansible-builder, the context holds the collection tarball, the pinned
requirements and the install steps, and the collection requirements file the
image build runs really installs that tarball (offline, with ansible-galaxy).
"""

from __future__ import annotations

import shutil

import yaml

from docskit import GALAXY, ROOT, TARBALL_NAME, clean_env, docs_tool, project_tool, run

EE = yaml.safe_load((ROOT / "execution-environment.yml").read_text(encoding="utf-8"))


def _context(tmp_path, tarball):
    """Run `ansible-builder create` on a copy of the definition with the tarball in build/ee."""
    work = tmp_path / "checkout"
    (work / "build" / "ee").mkdir(parents=True)
    shutil.copy2(ROOT / "execution-environment.yml", work)
    shutil.copytree(ROOT / "requirements", work / "requirements")
    shutil.copy2(tarball, work / "build" / "ee" / tarball.name)
    proc = run([docs_tool("ansible-builder"), "create", "-c", work / "context", "--output-filename", "Containerfile"],
               work)
    assert "Complete!" in proc.stdout + proc.stderr, proc.stdout
    return work / "context"


def test_definition_is_version_3_with_pinned_tools():
    assert EE["version"] == 3
    deps = EE["dependencies"]
    core = (ROOT / "requirements" / "test.txt").read_text(encoding="utf-8")
    assert deps["ansible_core"]["package_pip"] in core.splitlines(), "ansible-core pin differs from requirements/test.txt"
    assert "==" in deps["ansible_runner"]["package_pip"]
    for line in (ROOT / deps["python"]).read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            assert "==" in line, "unpinned Python requirement in %s: %s" % (deps["python"], line)


def test_collection_requirement_names_this_version():
    wanted = yaml.safe_load((ROOT / EE["dependencies"]["galaxy"]).read_text(encoding="utf-8"))
    names = [c["name"] for c in wanted["collections"]]
    assert "collections/%s" % TARBALL_NAME in names, (
        "%s must install %s (galaxy.yml version %s)" % (EE["dependencies"]["galaxy"], TARBALL_NAME, GALAXY["version"]))


def test_ansible_builder_create(tmp_path, collection_tarball):
    context = _context(tmp_path, collection_tarball)
    containerfile = (context / "Containerfile").read_text(encoding="utf-8")
    assert 'ARG EE_BASE_IMAGE="%s"' % EE["images"]["base_image"]["name"] in containerfile
    assert 'ARG ANSIBLE_INSTALL_REFS="%s %s"' % (
        EE["dependencies"]["ansible_core"]["package_pip"], EE["dependencies"]["ansible_runner"]["package_pip"]) in containerfile
    assert "ansible-galaxy collection install" in containerfile
    build = context / "_build"
    assert (build / "collections" / TARBALL_NAME).is_file()
    assert (build / "requirements.yml").read_text(encoding="utf-8") == (
        ROOT / EE["dependencies"]["galaxy"]).read_text(encoding="utf-8")
    assert "docker==" in (build / "requirements.txt").read_text(encoding="utf-8")
    assert "openssh-client" in (build / "bindep.txt").read_text(encoding="utf-8")


def test_image_collection_step_installs_the_tarball(tmp_path, collection_tarball):
    """The step the image build runs, `ansible-galaxy collection install -r requirements.yml`, offline."""
    context = _context(tmp_path, collection_tarball)
    target = tmp_path / "usr-share-ansible-collections"
    cfg = tmp_path / "ansible.cfg"
    cfg.write_text("[defaults]\n", encoding="utf-8")
    run([project_tool("ansible-galaxy"), "collection", "install", "--offline", "-r", "requirements.yml",
         "--collections-path", target], context / "_build", env=clean_env(ANSIBLE_CONFIG=str(cfg), HOME=str(tmp_path)))
    installed = target / "ansible_collections" / GALAXY["namespace"] / GALAXY["name"] / "MANIFEST.json"
    assert installed.is_file()
