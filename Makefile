# groundwork.infra: build and test entry points. `make help` lists the targets.
#
# Everything runs from the project's own virtualenv (.venv, made by
# scripts/venv.sh from requirements/) and local Docker images (made by
# scripts/base-images.sh): a fresh machine needs only `make test`.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-builtin-rules --no-print-directory

ROOT := $(patsubst %/,%,$(dir $(abspath $(lastword $(MAKEFILE_LIST)))))
VENV ?= $(ROOT)/.venv
BIN := $(VENV)/bin
PY := $(BIN)/python
BUILD := $(ROOT)/build
REPORTS := $(BUILD)/reports
COLLECTIONS := $(BUILD)/collections
COLLECTION_LINK := $(COLLECTIONS)/ansible_collections/groundwork/infra

# site-packages of the virtualenv: holds ansible_collections/ of the `ansible`
# package (community.docker, ansible.posix, ...). Evaluated when used, so it
# is right even in the make run that creates the virtualenv.
SITE_PACKAGES = $(firstword $(wildcard $(VENV)/lib/python3*/site-packages))

# PATH for the tools: the virtualenv first, pyenv's shims and bin left out.
# Ansible's interpreter discovery on a localhost named in an inventory would
# otherwise pick a shim of an inactive pyenv version (python3.13, ...) and fail;
# with this PATH it finds the virtualenv's python3.11.
ORIG_PATH := $(PATH)
empty :=
space := $(empty) $(empty)
TOOL_PATH := $(BIN):$(subst $(space),:,$(strip $(foreach d,$(subst :, ,$(PATH)),$(if $(findstring /.pyenv/,$(d)),,$(d)))))

export PATH := $(TOOL_PATH)
export ANSIBLE_COLLECTIONS_PATH = $(COLLECTIONS)$(if $(SITE_PACKAGES),:$(SITE_PACKAGES))
export ANSIBLE_LOCALHOST_WARNING := false
export ANSIBLE_NOCOWS := true
export VENV

PYTEST_ARGS ?=
# Documentation and release tool chain (antsibull-docs, antsibull-changelog,
# ansible-builder, galaxy-importer): its own virtualenv, see requirements/docs.txt.
DOCS_VENV ?= $(ROOT)/.venv-docs
export DOCS_VENV
# Space separated Python versions for ansible-test sanity (scripts/sanity.sh).
SANITY_PYTHONS ?= 3.11
export SANITY_PYTHONS

.PHONY: help venv docs-venv host-packages engine emulation images collection-link unit integration docs-check docs-site role-docs changelog lint sanity molecule test demo demo-check demo-next demo-clean e2e bench bench-smoke clean distclean clean-images

help: ## Show this help
	@awk 'BEGIN { FS = ":.*## " } /^[a-z][a-z-]*:.*## / { printf "  %-16s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

venv: ## Create/refresh .venv from requirements/ (skipped when up to date)
	@PATH="$(ORIG_PATH)" $(ROOT)/scripts/venv.sh

docs-venv: ## Create/refresh .venv-docs (DOCS_VENV) from requirements/docs.txt
	@PATH="$(ORIG_PATH)" VENV=$(DOCS_VENV) VENV_REQUIREMENTS=$(ROOT)/requirements/docs.txt \
	    VENV_CONSTRAINTS=$(ROOT)/requirements/docs-constraints.txt $(ROOT)/scripts/venv.sh

host-packages: ## Install the Debian packages the tests need (apt-get, when missing)
	@$(ROOT)/scripts/docker-engine.sh --packages-only

engine: ## Install host packages (docker.io, debootstrap, ...) and start dockerd
	@$(ROOT)/scripts/docker-engine.sh

emulation: host-packages ## Run arm64 programs under qemu-user: mount binfmt_misc, register qemu-aarch64 (F flag)
	@$(ROOT)/scripts/emulation.sh

images: engine emulation ## Build the local base images, bookworm-arm64 too, and the SSH host images groundwork/lab-ssh:bookworm, :trixie and :bookworm-arm64 (cached)
	@$(ROOT)/scripts/base-images.sh
	@$(ROOT)/scripts/lab-ssh-images.sh bookworm trixie bookworm-arm64 >/dev/null

collection-link: ## Link build/collections/ansible_collections/groundwork/infra -> repo
	@mkdir -p $(dir $(COLLECTION_LINK))
	@if [ -L $(COLLECTION_LINK) ] && [ "$$(readlink -f $(COLLECTION_LINK))" = "$$(readlink -f $(ROOT))" ]; then \
	    true; \
	elif [ -L $(COLLECTION_LINK) ] || [ ! -e $(COLLECTION_LINK) ]; then \
	    ln -sfn ../../../.. $(COLLECTION_LINK); \
	    echo "collection-link: $(COLLECTION_LINK:$(ROOT)/%=%) -> $$(readlink -f $(COLLECTION_LINK))"; \
	else \
	    echo "collection-link: $(COLLECTION_LINK) exists and is not a symlink; remove it" >&2; exit 1; \
	fi

unit: venv collection-link ## Unit tests (pytest tests/unit)
	$(BIN)/pytest tests/unit -q --junitxml=$(REPORTS)/unit.xml $(PYTEST_ARGS)

integration: venv host-packages collection-link ## Integration tests (pytest tests/integration)
	$(BIN)/pytest tests/integration -q --junitxml=$(REPORTS)/integration.xml $(PYTEST_ARGS)

role-docs: venv ## Regenerate the variable tables of roles/*/README.md from meta/argument_specs.yml
	$(PY) $(ROOT)/scripts/role-docs.py

changelog: docs-venv ## Regenerate CHANGELOG.md from changelogs/ (antsibull-changelog generate)
	cd $(ROOT) && $(DOCS_VENV)/bin/antsibull-changelog generate

docs-site: docs-venv collection-link ## Build the docs site with antsibull-docs + Sphinx (build/docs-site/build/html)
	$(ROOT)/scripts/docs-site.sh

# Documentation and release checks (tests/docs): changelog lint and drift, the docs
# site, ansible-builder create, galaxy-importer on the built tarball, and the
# commands of the guides in docs/ run for real.
docs-check: venv docs-venv host-packages collection-link docs-site ## Docs, changelog, EE and Galaxy import checks (pytest tests/docs)
	$(BIN)/pytest tests/docs -q --junitxml=$(REPORTS)/docs.xml $(PYTEST_ARGS)

# ansible-lint installs the collection it lints into its cache dir (~/.ansible by default) and
# skips that install when the same version is already there, so a stale copy from an earlier
# checkout would be linted instead of this one. A private, fresh HOME keeps it honest.
lint: venv collection-link ## ansible-lint, production profile
	rm -rf $(BUILD)/lint-home && mkdir -p $(BUILD)/lint-home
	HOME=$(BUILD)/lint-home $(BIN)/ansible-lint --profile production

sanity: venv host-packages ## ansible-test sanity on a copy of the collection (build/sanity)
	$(ROOT)/scripts/sanity.sh

# SCENARIOS="a b" limits the run to those scenarios.
SCENARIOS ?=
molecule: venv images collection-link ## molecule test for every molecule/<scenario> (or SCENARIOS="...")
	$(ROOT)/scripts/molecule.sh $(SCENARIOS)

# Cheap checks first: a failure stops the run before the slow ones.
test: venv host-packages collection-link unit docs-check integration bench-smoke lint sanity engine images molecule demo-check ## Everything CI runs

# The lab has its arm64 host under qemu-user emulation (demo, demo-check, e2e);
# LAB_ARM64_EMULATED=0 leaves it out. docs/lab.md gives what it costs.
LAB_ARM64_EMULATED ?= 1
export LAB_ARM64_EMULATED
demo: venv images collection-link ## Run scripts/demo.sh (LAB_ARM64_EMULATED=0: without the emulated arm64 host)
	$(ROOT)/scripts/demo.sh

demo-next: venv collection-link ## After `make demo`: build the next demo release (hello-svc 1.1.0), serve it, print the upgrade commands
	$(ROOT)/scripts/demo-next.sh --serve

demo-check: venv images collection-link ## The demo as a test: a fresh lab, scripts/demo.sh, tests/e2e on it, then remove the lab
	$(MAKE) demo-clean
	$(ROOT)/scripts/demo.sh
	$(BIN)/pytest tests/e2e -q --junitxml=$(REPORTS)/e2e.xml $(PYTEST_ARGS)
	$(MAKE) demo-clean

e2e: venv collection-link ## tests/e2e against the lab that `make demo` left running
	$(BIN)/pytest tests/e2e -q --junitxml=$(REPORTS)/e2e.xml $(PYTEST_ARGS)

bench: venv images collection-link ## Benchmarks (shapes A gz 1 GiB, B xz, C 20,000 files, fan-out, memory, deploy on the lab): table + build/bench/results.json
	$(PY) $(ROOT)/bench/bundle_bench.py --deploy $(BENCH_ARGS)

bench-smoke: venv host-packages collection-link ## The benchmarks at a tiny size, only to check they still run
	$(PY) $(ROOT)/bench/bundle_bench.py --size-mib 8 --xz-mib 4 --files 200 --fanout-mib 2 --hosts 1,2 --members 100,1000 --runs 1 --json $(BUILD)/bench/smoke.json

demo-clean: ## Stop and remove the demo lab (containers, the server of make demo-next, build/demo, the fact cache build/facts)
	if [ -f $(BUILD)/demo/server.pid ]; then kill "$$(cat $(BUILD)/demo/server.pid)" 2>/dev/null || true; fi
	docker rm -f -v lab-bookworm lab-trixie lab-arm64-emulated >/dev/null 2>&1 || true
	rm -rf $(BUILD)/demo $(BUILD)/facts

clean: ## Remove build/, test output and caches (keeps .venv and images)
	rm -rf $(BUILD) $(ROOT)/tests/output $(ROOT)/.pytest_cache $(ROOT)/.ansible $(ROOT)/groundwork-infra-*.tar.gz
	find $(ROOT) -path $(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean ## clean, and remove .venv too
	rm -rf $(VENV) $(DOCS_VENV)

clean-images: ## Remove the local base images and the lab's SSH images built on them (next `make images` / `make demo` rebuild them)
	-docker image rm groundwork/lab-ssh:bookworm groundwork/lab-ssh:trixie groundwork/lab-ssh:bookworm-arm64
	-docker image rm groundwork/debian-systemd:bookworm groundwork/debian-systemd:trixie groundwork/debian-systemd:bookworm-arm64 groundwork/busybox:local
