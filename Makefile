# bizdomain: `make help` lists the targets.
SHELL := /usr/bin/env bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
MEMBERS ?= dev prod
CLUSTERS := host $(MEMBERS)
export MEMBERS
# The pinned control-plane binaries live in a cache outside the checkout (hack/build-binaries.sh).
BIN_DIR = $(shell hack/build-binaries.sh --dir)
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

##@ General
help: ## List the targets with one line each
	@awk 'BEGIN {FS = ":.*##"} /^[a-zA-Z_-]+:.*?##/ { printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n%s\n", substr($$0, 5) }' $(MAKEFILE_LIST)

##@ Development
venv: $(VENV)/.installed ## Create the virtualenv with the pinned dependencies
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

binaries: ## Build etcd, kube-apiserver, kube-controller-manager, kubectl and helm (cached)
	hack/build-binaries.sh

manifests: venv ## Generate crds/ and the chart's CRDs from the pydantic models
	$(PY) -m bizdomain.api.crdgen --out crds --out charts/bizdomain/crds

lint: venv ## ruff, mypy strict (operator, hack, bench, tests) and the import-layer contracts
	$(VENV)/bin/ruff check operator tests hack bench
	$(VENV)/bin/ruff format --check operator tests hack bench
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

fmt: venv ## Format the code with ruff
	$(VENV)/bin/ruff check --fix operator tests hack bench
	$(VENV)/bin/ruff format operator tests hack bench

test: venv binaries ## Build what is missing, then run the whole suite against a real local control plane
	BIZDOMAIN_BIN_DIR=$(BIN_DIR) $(PY) -m pytest $(PYTEST_ARGS)

##@ Local control plane
cluster-up: venv binaries ## Start etcd and one API server per cluster (host + MEMBERS) on loopback
	BIZDOMAIN_BIN_DIR=$(BIN_DIR) $(PY) -m localcluster up $(CLUSTERS)

cluster-down: venv ## Stop every process cluster-up started and remove its state
	$(PY) -m localcluster down

##@ Operator
install: venv ## Install the CRDs into the host cluster (.cluster/host.kubeconfig or KUBECONFIG)
	$(BIN_DIR)/kubectl --kubeconfig $${KUBECONFIG:-.cluster/host.kubeconfig} apply --server-side -f crds/

uninstall: venv ## Remove the CRDs (and so every bizdomain object) from the host cluster
	$(BIN_DIR)/kubectl --kubeconfig $${KUBECONFIG:-.cluster/host.kubeconfig} delete --ignore-not-found -f crds/

deploy: binaries ## helm install/upgrade the chart on the host in KUBECONFIG (default .cluster/host.kubeconfig)
	$(BIN_DIR)/helm upgrade --install bizdomain charts/bizdomain --namespace bizdomain-system --create-namespace \
	  --kubeconfig $${KUBECONFIG:-.cluster/host.kubeconfig}

undeploy: binaries ## helm uninstall the chart (CRDs, domains and members stay)
	$(BIN_DIR)/helm uninstall bizdomain --namespace bizdomain-system --kubeconfig $${KUBECONFIG:-.cluster/host.kubeconfig}

run: cluster-up install ## Local control plane, the samples from examples/, then the operator in the foreground
	BIZDOMAIN_BIN_DIR=$(BIN_DIR) hack/run-local.sh

##@ Benchmark
bench: venv binaries ## Operator vs the direct-apply floor at BENCH_NS domains (default "10 100 1000"); bench/results/
	$(PY) -c 'import matplotlib' 2>/dev/null || $(PY) -m pip install --quiet -e '.[dev,bench]'
	BIZDOMAIN_BIN_DIR=$(BIN_DIR) $(PY) -m bench --ns "$(or $(BENCH_NS),10 100 1000)" $(BENCH_ARGS)

bench-plan: venv ## Time an offline `bizdomain plan` of 1000 domains x 2 environments x 2 clusters each (no cluster)
	$(PY) -m bench.plan --domains $(or $(BENCH_PLAN_N),1000)

.PHONY: bench bench-plan

.PHONY: help venv binaries manifests lint fmt test cluster-up cluster-down install uninstall deploy undeploy run
