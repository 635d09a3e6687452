# dockyard: `make run` (install, start the stack, run the demo) and `make test` (install, run every test).
SHELL := /bin/bash
PYTHON ?= python3
VENV := $(CURDIR)/.venv
PY := $(VENV)/bin/python
export PATH := $(VENV)/bin:$(PATH)
SERVICES := image_service volume_service network_service shim_runner container_service apiserver

.PHONY: run test install deps venv images up down demo unit integration conformance protos protos-check clean

run: install up demo

test: install
	$(PY) tools/run_tests.py

install: deps venv images

# Debian packages: the OCI runtime, the monitor, busybox for the embedded images, the docker CLI
# (its daemon stays off), the registry for tests, iptables, docker-compose (integration/compose).
DEB_PACKAGES := runc conmon tini busybox-static docker.io docker-compose docker-registry iptables nftables python3-venv python3-pip
deps:
	@missing=""; for p in $(DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	  if systemctl is-active --quiet docker 2>/dev/null; then systemctl disable --now docker docker.socket containerd >/dev/null 2>&1 || true; fi; \
	fi

venv: $(VENV)/.installed
$(VENV)/.installed: requirements.txt libs/pyproject.toml $(wildcard services/*/pyproject.toml)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps -e libs $(addprefix -e services/,$(SERVICES))
	touch $@

images: venv
	$(PY) tools/make_default_images.py build/images

up: install
	$(PY) tools/stack.py up

down:
	$(PY) tools/stack.py down

demo:
	$(PY) tools/stack.py demo

unit: venv
	$(PY) tools/run_tests.py unit

integration: venv
	$(PY) tools/run_tests.py integration

conformance: venv
	$(PY) tools/run_tests.py conformance

protos: venv
	$(PY) tools/gen_protos.py

protos-check: venv
	$(PY) tools/gen_protos.py --check

clean:
	rm -rf $(VENV) build
