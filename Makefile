# adoptmesh.istio developer entry points. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := $(CURDIR)/.venv
BIN := $(VENV)/bin
NAME ?= local
FLEET := fleet-a fleet-b fleet-c
# Integration test files run side by side, each on a worker of its own (pytest-xdist): most of
# their time is spent waiting for planes, rollouts and istiod, not computing.
INTEGRATION_WORKERS ?= 2
export ANSIBLE_COLLECTIONS_PATH := $(CURDIR)/.build/collections
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export PATH := $(CURDIR)/.build/bin:$(BIN):$(PATH)

.PHONY: help setup build lint sanity units integration test demo cluster-up cluster-down fleet-up fleet-down bench collection clean

help: ## Show the targets.
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

setup: ## Create .venv with pinned Python deps and lay out the collections path (kubernetes.core included).
	@tools/setup.sh

build: ## Build the control plane, helm, istioctl, pilot-discovery and both routing oracles (istiod, ingress-nginx); package the offline charts and CRDs; install nginx when missing.
	@tools/cluster/build.sh
	@tools/cluster/content.sh
	@tools/nginx.sh

lint: setup ## ansible-lint, production profile.
	cd $(CURDIR) && $(BIN)/ansible-lint

sanity: setup ## ansible-test sanity on a copy laid out as ansible_collections/adoptmesh/istio.
	tools/sanity.sh

units: setup ## Unit tests of the pure logic (pytest, tests/unit).
	$(BIN)/pytest tests/unit

integration: setup build ## Integration tests against real local control planes (pytest, tests/integration).
	@tools/browser.sh
	$(BIN)/pytest -n $(INTEGRATION_WORKERS) --dist loadfile tests/integration

test: ## Every test tier in order, stopping at the first failure: lint, sanity, units, integration.
	$(MAKE) lint
	$(MAKE) sanity
	$(MAKE) units
	$(MAKE) integration

demo: setup build ## Adopt the local control plane into the mesh and print where the report is.
	tools/demo.sh

cluster-up: setup build ## Start a local control plane (NAME=local); prints KUBECONFIG=<path> and leaves it running.
	@$(BIN)/python tools/cluster/plane.py up --name $(NAME)

cluster-down: setup ## Stop the control plane that `make cluster-up` started (NAME=local).
	@$(BIN)/python tools/cluster/plane.py down --name $(NAME)

fleet-up: setup build ## Start the three planes of inventories/local-fleet (fleet-a, fleet-b, fleet-c).
	@for name in $(FLEET); do $(BIN)/python tools/cluster/plane.py up --name $$name || exit 1; done

fleet-down: setup ## Stop the planes of inventories/local-fleet.
	@for name in $(FLEET); do $(BIN)/python tools/cluster/plane.py down --name $$name; done

bench: setup build ## Benchmarks (figures in docs/benchmarks.md); each starts a local plane of its own.
	$(BIN)/python benchmarks/bench_probes.py
	$(BIN)/python benchmarks/bench_ingress.py

collection: setup ## Build the collection tarball (ansible-galaxy collection build).
	$(BIN)/ansible-galaxy collection build --force --output-path .build/dist .

clean: cluster-down ## Remove build output (keeps Go's shared caches).
	rm -rf .build .venv tests/output
