# make demo: a working registry in a sandbox host.  make test: everything CI runs.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
VENV := .venv
export PATH := $(abspath $(VENV))/bin:$(PATH)
export ANSIBLE_CONFIG := $(abspath ansible.cfg)

SCENARIOS := $(sort $(notdir $(patsubst %/molecule.yml,%,$(wildcard molecule/*/molecule.yml))))
DEMO_PORT ?= 5443

.PHONY: help venv images lint unit molecule $(addprefix molecule-,$(SCENARIOS)) test demo demo-down clean

help:
	@echo "make demo       a registry in a sandbox host, deployed by site.yml (DEMO_PORT=$(DEMO_PORT))"
	@echo "make demo-down  remove the sandbox"
	@echo "make test       lint, unit tests and every Molecule scenario: $(SCENARIOS)"
	@echo "make images     build the offline test images (reused while unchanged)"

venv: $(VENV)/.installed
$(VENV)/.installed: requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements.txt
	touch $@

images:
	python3 tests/images/build.py

lint: venv
	yamllint --strict .
	ansible-lint

unit: venv
	pytest

# Scenarios are independent (own containers and networks): they can run in parallel.
molecule: $(addprefix molecule-,$(SCENARIOS))
$(addprefix molecule-,$(SCENARIOS)): molecule-%: venv images
	molecule test --scenario-name $*

# Two scenarios at a time, each one's output printed whole when it ends.
test: lint unit
	$(MAKE) --jobs=2 --output-sync=target molecule

demo: venv images
	ansible-playbook -i demo/inventory.yml demo/demo.yml -e demo_port=$(DEMO_PORT)

demo-down:
	docker rm --force --volumes dockyard-demo >/dev/null 2>&1 || true
	rm -rf .demo /etc/docker/certs.d/127.0.0.1:$(DEMO_PORT)
	@echo "The demo sandbox is gone."

clean: demo-down
	rm -rf $(VENV) .cache reports
