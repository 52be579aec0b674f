# make demo: a working registry in a sandbox host.  make test: everything CI runs.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
VENV := .venv
# tests/host.sh puts a Go toolchain here when the machine's Go is too old.
export PATH := $(abspath $(VENV))/bin:$(abspath .cache/go-toolchain)/bin:$(PATH)
export ANSIBLE_CONFIG := $(abspath ansible.cfg)

SCENARIOS := $(sort $(notdir $(patsubst %/molecule.yml,%,$(wildcard molecule/*/molecule.yml))))
DEMO_PORT ?= 5443
# make bench's sizes; make test runs the same scenario (bench) as a one-round
# smoke with small images.
BENCH_ROUNDS ?= 4
BENCH_MIB ?= 1024
BENCH_MIRROR_LAYERS ?= 6
BENCH_MIRROR_MIB ?= 8
BENCH_COALESCE_CLIENTS ?= 1 10 20
BENCH_ROLLOUT_SIZES ?= 10 25 50
BENCH_ROLLOUT_KINDS ?= docker containerd podman mixed
BENCH_ROLLOUT_ROUNDS ?= 1
BENCH_AUTH_SECONDS ?= 10
BENCH_AUTH_PULLS ?= 25

.PHONY: help host-demo host-test venv images images-demo collection collection-test collection-check release docs lint unit molecule $(addprefix molecule-,$(SCENARIOS)) \
	checks test bench demo demo-down demo-check clean

help:
	@echo "make demo       a registry in a sandbox host, deployed by site.yml (DEMO_PORT=$(DEMO_PORT))"
	@echo "make demo-down  remove the sandbox"
	@echo "make test       lint, unit tests and every Molecule scenario: $(SCENARIOS)"
	@echo "make bench      the measurements, side by side, into reports/bench/ (BENCH_ROUNDS=$(BENCH_ROUNDS))"
	@echo "make images     build the offline test images (reused while unchanged)"
	@echo "make docs       the generated parts of the docs (defaults/main.yml, option tables), then the site into site/"
	@echo "make collection build the collection dockyard.registry into dist/ (collection-test: ansible-test on it)"
	@echo "make release    the changelog from its fragments, then the collection and its checks"

# Docker Engine (installed and started), debootstrap, venv; Go for the tests.
host-demo host-test: host-%:
	tests/host.sh $*

venv: $(VENV)/.installed
$(VENV)/.installed: requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements.txt
	touch $@

images: host-test
	$(TIMED) images -- python3 tests/images/build.py

# Only what the demo runs: the host image, registry 2.x and the sample image.
images-demo: host-demo
	python3 tests/images/build.py systemd registry2 busybox

# The collection dockyard.registry, built from the tree as it is: its folder in
# collections/ links to roles/, playbooks/, library/, module_utils/,
# filter_plugins/ and tests/unit/, and holds what only the collection has
# (galaxy.yml, the one place of the version; meta/runtime.yml; the changelog).
COLLECTION := collections/ansible_collections/dockyard/registry
VERSION := $(shell sed -n 's/^version: //p' $(COLLECTION)/galaxy.yml)
TARBALL := dist/dockyard-registry-$(VERSION).tar.gz
collection: venv
	rm -rf .cache/collection dist
	mkdir -p .cache/collection dist
	cp -RL $(COLLECTION) .cache/collection/registry
	ansible-galaxy collection build --output-path dist .cache/collection/registry

# ansible-test sanity and units on the built collection.
collection-test: collection
	$(TIMED) collection -- tests/collection-test.sh $(TARBALL) sanity units

# The collection installed into a project of its own and deployed by its
# names on a sandbox host, as its README shows (tests/collection-check.sh).
collection-check: collection images | $(COLLECTION_CHECK_AFTER)
	+$(TIMED) collection-check -- tests/collection-check.sh $(TARBALL)

# A release of galaxy.yml's version: the changelog from its fragments
# (changelogs/fragments/ in the collection), then the collection and its checks.
release: venv
	cd $(COLLECTION) && antsibull-changelog release
	$(MAKE) collection-test collection-check
	@echo "dockyard.registry $(VERSION) is $(TARBALL); commit the changelog and tag it: git tag v$(VERSION)"

# Each option is described once, in its role's meta/argument_specs.yml: the
# generated parts of the pages, then the site (mkdocs-material) into site/,
# then its pages rendered in headless Chromium (screenshots in reports/docs/).
# make test builds the site too (tests/roles/test_docs.py), not the rendering.
docs: venv
	python3 tools/docs.py
	NO_MKDOCS_2_WARNING=1 mkdocs build --strict
	tests/docs-check.sh

lint: host-test venv
	yamllint --strict .
	ansible-lint
	ruff check .
	cd $(COLLECTION) && antsibull-changelog lint

# Each role test is a real ansible-playbook run: two at a time.
unit: venv
	pytest --numprocesses 2

# Scenarios are independent (own containers and networks): they can run in
# parallel, longest first (by the record, tests/timings.json), so that the
# two at a time end close together. Each one's output is also kept in
# reports/test/<scenario>.log, in lines wide enough to hold a failed test's
# name and reason.
LONGEST_FIRST = $(shell python3 tests/timings.py longest-first $(SCENARIOS))
molecule: $(addprefix molecule-,$(LONGEST_FIRST))
$(addprefix molecule-,$(SCENARIOS)): molecule-%: venv images
	mkdir -p reports/test
	COLUMNS=200 molecule test --scenario-name $* 2>&1 | python3 tests/timings.py stages $* | tee reports/test/$*.log

# The machine and the demo's images first (the demo's cost is measured alone).
# Then two jobs at a time, each one's output printed whole when it ends: the
# linters and the role tests (checks) while the other images build, then the
# collection's tests and the demo's round trip, the scenarios, and the
# collection's journey after the scenario that starts last (make would start
# it before them: two jobs then end close together). On a failure, every
# failed test and task of the failed scenarios again, last (a scenario that
# passed fails tasks on purpose: its refusals). Last, where the time went
# (each phase, each scenario's stages) beside the record of a fresh machine's
# run, tests/timings.json (timings.py report --save tests/timings.json).
TIMED := python3 tests/timings.py run
checks:
	$(TIMED) lint -- $(MAKE) lint
	$(TIMED) unit -- $(MAKE) unit

test:
	rm -rf reports/timings reports/test
	$(TIMED) setup -- $(MAKE) host-test venv
	$(TIMED) images-demo -- $(MAKE) images-demo
	$(MAKE) --jobs=2 --output-sync=target COLLECTION_CHECK_AFTER=molecule-$(lastword $(LONGEST_FIRST)) \
	  checks images molecule collection-test demo-check collection-check || { \
	  echo "make test failed. The failed tests and tasks (reports/test/ has each scenario's output):"; \
	  grep --files-with-matches 'Executed: Failed' reports/test/*.log \
	    | xargs --no-run-if-empty grep --with-filename --perl-regexp \
	      '(FAILED|ERROR)(\e\[[0-9;]*m)* +[a-z]|fatal: \[|Verifier tests failed' \
	    | sed 's/\x1b\[[0-9;]*m//g'; \
	  python3 tests/timings.py report; \
	  exit 1; }
	python3 tests/timings.py report

# Not part of make test: figures are not pass or fail on a shared machine. The
# run is kept as benchmarks/latest.json, which docs/reference/performance.md shows.
bench: venv images
	BENCH_ROUNDS=$(BENCH_ROUNDS) BENCH_MIB=$(BENCH_MIB) BENCH_MIRROR_LAYERS=$(BENCH_MIRROR_LAYERS) \
	BENCH_MIRROR_MIB=$(BENCH_MIRROR_MIB) BENCH_COALESCE_CLIENTS="$(BENCH_COALESCE_CLIENTS)" \
	BENCH_ROLLOUT_SIZES="$(BENCH_ROLLOUT_SIZES)" BENCH_ROLLOUT_KINDS="$(BENCH_ROLLOUT_KINDS)" \
	BENCH_ROLLOUT_ROUNDS=$(BENCH_ROLLOUT_ROUNDS) BENCH_AUTH_SECONDS=$(BENCH_AUTH_SECONDS) \
	BENCH_AUTH_PULLS=$(BENCH_AUTH_PULLS) molecule test --scenario-name bench
	cp reports/bench/latest.json benchmarks/latest.json

demo: host-demo venv images-demo
	ansible-playbook -i demo/inventory.yml demo/demo.yml -e demo_port=$(DEMO_PORT)
	@echo; cat .demo/what-now.txt

# Leaves the machine as make demo found it, whatever port it used: the sandbox,
# .demo/, each certs.d entry the demo added (listed in .demo/added), the image
# tags of each registry address it named there, and each directory it created
# (.demo/created).
demo-down:
	docker rm --force --volumes dockyard-demo >/dev/null 2>&1 || true
	if [ -f .demo/added ]; then \
	  for registry in $$(sed -n 's|^/etc/docker/certs.d/\(.*\)/ca.crt$$|\1|p' .demo/added); do \
	    docker image ls --format '{{.Repository}}:{{.Tag}}' | awk -v prefix="$$registry/" 'index($$0, prefix) == 1 && !/:<none>$$/' \
	      | xargs --no-run-if-empty docker rmi >/dev/null; \
	  done; \
	  xargs --no-run-if-empty rm -f < .demo/added; fi
	if [ -f .demo/created ]; then tac .demo/created | xargs --no-run-if-empty rmdir --ignore-fail-on-non-empty; fi
	rm -rf .demo
	@echo "The demo sandbox is gone."

# make demo on a port of its own, then make demo-down as make demo prints it,
# leave /etc/docker on this machine as it was.
demo-check: venv images
	+$(TIMED) demo-check -- tests/demo-check.sh 6443

clean: demo-down
	rm -rf $(VENV) .cache reports
