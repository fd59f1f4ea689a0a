# The two commands of the README: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DEMO_DIR ?= .demo

.PHONY: install lock test unit integration e2e lint format crds controlplane node argocd image demo demo-stop bench bench-resilience clean

install: $(STAMP)

# Reinstall only when the dependency declaration or the lock changes.
$(STAMP): pyproject.toml devtools/pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --constraint constraints.txt --editable '.[dev]' --editable ./devtools
	@touch $@

# Regenerate the lock after changing dependencies in either pyproject.toml. --all: setuptools
# is a dev dependency (the wheel test builds with it), and plain freeze would leave it out.
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet --upgrade pip
	.lock-venv/bin/pip install --quiet '.[dev]' ./devtools
	.lock-venv/bin/pip freeze --all --exclude-editable | grep -v -e '^foundry-agent-' -e '^pip==' \
	  > constraints.txt
	rm -rf .lock-venv

# Builds (or finds) etcd, kube-apiserver, kubectl and helm once, with progress on screen,
# so the test session itself never waits on a compiler.
controlplane: install
	$(BIN)/foundry-devcluster build

# The same, plus kube-controller-manager, kube-scheduler and kubelet for `start --node`
# (skipped, with the reason, on a machine that cannot run a node).
node: install
	$(BIN)/foundry-devcluster build --node --if-possible

# Argo CD for the GitOps tests (tests/integration/gitops/test_argocd_live.py and the
# app-of-apps e2e test), built from its Go module and cached like the control plane; a cold
# build (module downloads included) takes about 13 minutes on 2 cores, a warm one nothing.
argocd: install
	$(BIN)/foundry-devcluster build --argocd

# The operator image from the Dockerfile, with buildah on a local stand-in of its base;
# prints the reference, digest and size of dist/foundry-agent-operator-VERSION.oci.tar.
image: install
	$(BIN)/foundry-devcluster build-image --out dist

# The node e2e tests (tests/e2e/test_node_chart.py) build the image themselves too; doing it
# here first shows its progress on screen instead of inside the test session.
# Two workers (pytest-xdist): most tests wait on servers, so two sessions, each with its own
# control plane, emulator and operator, share the 2 cores; tests/conftest.py keeps the node
# and Argo CD tests together in one worker.
test: lint controlplane node argocd
	$(BIN)/foundry-devcluster build-image --out dist --if-possible
	$(BIN)/pytest -n 2

unit: install
	$(BIN)/pytest tests/unit

integration: controlplane argocd
	$(BIN)/pytest tests/integration

e2e: controlplane node argocd
	$(BIN)/pytest tests/e2e

lint: install
	$(BIN)/ruff check operator devtools tests bench
	$(BIN)/ruff format --check operator devtools tests bench
	$(BIN)/mypy

format: install
	$(BIN)/ruff format operator devtools tests bench
	$(BIN)/ruff check --fix operator devtools tests bench

# The chart carries a copy of the CRD (a test fails when the two differ).
crds: install
	$(BIN)/foundry-operator crds
	cp crds/*.yaml charts/foundry-agent-operator/files/crds/

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache

# The README's run command: control plane + emulator + operator + sample agents, left running.
# NODE=1: with a node, the operator as a Pod from the image, installed with the chart.
demo: install
	$(BIN)/foundry-demo --dir $(DEMO_DIR) $(if $(NODE),--node)

demo-stop:
	$(BIN)/foundry-demo --stop --dir $(DEMO_DIR)

# Benchmark: `make bench N=1000 LATENCY_MS=50 PROVISIONING=2 CONCURRENCY=16`; the last line
# printed is a JSON object with every figure. `make bench-resilience` breaks things on purpose.
N ?= 100
LATENCY_MS ?= 50
PROVISIONING ?= 2
CONCURRENCY ?= 16
THROTTLE_RATE ?= 0
ERROR_RATE ?= 0
SCENARIO ?= all

bench: controlplane
	$(BIN)/python -m bench.run --agents $(N) --latency-ms $(LATENCY_MS) \
	  --provisioning $(PROVISIONING) --concurrency $(CONCURRENCY) \
	  --throttle-rate $(THROTTLE_RATE) --error-rate $(ERROR_RATE)

bench-resilience: controlplane
	$(BIN)/python -m bench.scenarios --scenario $(SCENARIO) --agents $(N)
