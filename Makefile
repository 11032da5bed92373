# The one command surface. `make demo` and `make test` do all set-up on a fresh machine:
# a pinned uv (bootstrapped with pip into .cache/), the locked Python environment, and the
# native dev stack (Kafka from Maven Central jars, versitygw built with `go install`).

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

UV_VERSION := 0.13.9
TOOLS := .cache/tools
UV := $(TOOLS)/bin/uv
# The lmdeploy environment (extra `gpu`: lmdeploy, torch with CUDA wheels, ~7.5 GB) lives apart
# from .venv, so day-to-day work and the service's CPU image never carry it.
LMDEPLOY_ENV := .cache/venv-lmdeploy
LMDEPLOY_PY := $(LMDEPLOY_ENV)/bin/python
DEVSTACK := scripts/devstack.sh
export UV_PYTHON_DOWNLOADS := never
export UV_PYTHON_PREFERENCE := only-system
export UV_LOCKED := 1

# Run a command with the dev stack up: starts it if needed, stops it only if this run started it.
define with_stack
	started=0; \
	if ! $(DEVSTACK) status >/dev/null 2>&1; then $(DEVSTACK) up; started=1; fi; \
	set -a; . .cache/devstack/env; set +a; \
	rc=0; $(1) || rc=$$?; \
	if [ $$started = 1 ]; then $(DEVSTACK) down; fi; \
	exit $$rc
endef

# helm, built once from its Go module through the Go proxy (no release binary can be fetched);
# its version is stamped in, and templates render with --kube-version (tests/chart).
HELM_VERSION := v3.22.0
HELM := $(TOOLS)/bin/helm
$(HELM):
	mkdir -p $(TOOLS)/bin
	cd $(TOOLS) && GOBIN=$(abspath $(TOOLS))/bin GOFLAGS=-buildvcs=false go install \
		-ldflags "-X helm.sh/helm/v3/internal/version.version=$(HELM_VERSION)" \
		helm.sh/helm/v3/cmd/helm@$(HELM_VERSION)

# etcd, kube-apiserver and kubectl at pinned versions (scripts/kube/go.mod), for the chart's
# server-side validation: about 4-11 minutes cold on 2 cores (3 GB of Go build cache), seconds
# once cached. Nothing is downloaded but Go modules.
KUBE_BIN := .cache/kube/bin
$(KUBE_BIN)/kube-apiserver: scripts/kube/go.mod scripts/kube/go.sum
	mkdir -p $(KUBE_BIN)
	cd scripts/kube && GOFLAGS=-buildvcs=false go build -o $(abspath $(KUBE_BIN))/ \
		k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kubectl
	cd scripts/kube && GOFLAGS=-buildvcs=false go build -o $(abspath $(KUBE_BIN))/etcd \
		go.etcd.io/etcd/server/v3

.PHONY: kube-tools
kube-tools: $(KUBE_BIN)/kube-apiserver ## etcd, kube-apiserver, kubectl for the chart tests (.cache/kube)

.PHONY: helm-test
helm-test: setup $(HELM) kube-tools ## the chart alone: lint, templates, a real API server's verdict
	$(call with_stack,$(UV) run pytest tests/chart)

.PHONY: help
help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(UV):
	python3 -m venv $(TOOLS)/venv
	$(TOOLS)/venv/bin/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	mkdir -p $(TOOLS)/bin && ln -sf ../venv/bin/uv $(UV)

.PHONY: setup
setup: $(UV) ## install the locked environment (.venv)
	$(UV) sync --all-packages

.PHONY: lock
lock: $(UV) ## re-resolve uv.lock after changing dependencies
	env -u UV_LOCKED $(UV) lock

.PHONY: dev-up
dev-up: ## start Kafka and the S3 server on 127.0.0.1 (idempotent)
	$(DEVSTACK) up

.PHONY: dev-down
dev-down: ## stop the dev stack
	$(DEVSTACK) down

.PHONY: lint
lint: setup ## ruff, formatting, mypy --strict, schema drift, hadolint
	$(UV) run ruff check .
	$(UV) run ruff format --check .
	$(UV) run mypy
	$(UV) run python -m vl2ingest_events.jsonschema --check schemas/jsonschema
	$(UV) run hadolint docker/Dockerfile docker/Dockerfile.gpu

.PHONY: schemas
schemas: setup ## regenerate schemas/jsonschema from the Structs
	$(UV) run python -m vl2ingest_events.jsonschema schemas/jsonschema

.PHONY: unit
unit: setup ## unit tests only (no servers)
	$(UV) run pytest tests/unit

.PHONY: faults
faults: setup ## the fault-injection suite alone (real servers); writes docs/reliability.md
	$(call with_stack,$(UV) run pytest tests/faults)

.PHONY: bench
bench: setup ## benchmarks on real Kafka + S3 with a simulated engine: docs/benchmarks.md
	$(call with_stack,$(UV) run python -m bench.run)

.PHONY: lmdeploy-env
lmdeploy-env: $(UV) ## install the lmdeploy environment (large, cached under .cache/)
	UV_PROJECT_ENVIRONMENT=$(LMDEPLOY_ENV) $(UV) sync --all-packages --extra gpu

.PHONY: contract
contract: lmdeploy-env ## CPU contract tests against the real lmdeploy package
	$(LMDEPLOY_PY) -m pytest tests/lmdeploy

# This project's GPU machines reach no network: `make gpu-kit` (here) downloads the wheels their
# image lacks into .cache/gpu-kit, to carry along; README "GPU deployment" has the device command.
.PHONY: gpu-kit
gpu-kit: ## wheels for GPU machines without network (.cache/gpu-kit, < 56 MiB)
	python3 scripts/gpu_kit.py

# ARGS="--model-path DIR" (or VL2INGEST_TEST_MODEL_PATH) for real weights, ARGS="--random-weights
# tiny" (or small) where weights cannot be downloaded: see bench/gpu_check.py.
.PHONY: gpu-check
gpu-check: lmdeploy-env ## on a GPU machine: tests/gpu + bench/gpu.py (ARGS="--random-weights tiny")
	$(LMDEPLOY_PY) -m bench.gpu_check $(ARGS)

# The GPU machines run our code under their own image's packages (transformers 5.17, torch 2.11,
# Python 3.12) plus the kit: the twin tests that combination here (issue 10). It runs in every
# `make test`: about a minute once uv's cache holds the image's wheels, and the adapter, the kit
# and the image can each break the GPU run without any other test noticing.
.PHONY: gpu-twin
gpu-twin: $(UV) gpu-kit ## the GPU image's environment on CPU: contract tests + GPU-path imports
	UV=$(UV) bash scripts/gpu_twin.sh

.PHONY: test
test: setup lint $(HELM) kube-tools ## everything: lint, unit, integration (real Kafka + S3), chart, lmdeploy contract tests
	$(call with_stack,$(UV) run pytest --ignore=tests/lmdeploy)
	$(MAKE) contract
	$(MAKE) gpu-twin

.PHONY: demo
demo: setup ## upload sample images, run the service, print the extraction events
	$(call with_stack,$(UV) run python scripts/demo/demo.py)

.PHONY: demo-uploads
demo-uploads: setup ## upload and watch: a versitygw that notifies Kafka itself; PUTs become results
	$(call with_stack,$(UV) run python scripts/demo/uploads.py)

.PHONY: clean
clean: ## remove the virtualenv and caches (keeps downloaded jars and binaries)
	rm -rf .venv .pytest_cache .mypy_cache .ruff_cache .hypothesis
