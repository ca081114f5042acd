# One machine needs nothing but the project: every target installs what it lacks.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SITE = $(shell $(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
PROTOS := $(wildcard proto/elasticjob/cloud/v1/*.proto)
GEN_DIR ?= gen
EXECUTOR_ZIPAPP ?= dist/elasticjob-executor.pyz
LINTED := server tests bench testkit devstack tools

.PHONY: help venv zookeeper postgresql deps gen gen-check lint test test-unit test-chaos run bench executor clean

help:
	@echo "make run    - start ZooKeeper, the gRPC server and Envoy (REST on 127.0.0.1:8899) for development"
	@echo "make test   - install what is missing and run lint, type checks and the whole test suite"
	@echo "make gen    - regenerate gen/ from proto/"
	@echo "make bench  - run the benchmarks in bench/"
	@echo "make executor - build $(EXECUTOR_ZIPAPP), the executor any Mesos agent runs with python3"

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps --no-build-isolation -e . 2>/dev/null || $(PY) -m pip install -q --no-deps -e .
	touch $(STAMP)

venv: $(STAMP)

# Debian's ZooKeeper (pulls Java). Skipped when it is already there.
zookeeper:
	@if [ ! -f /usr/share/java/zookeeper.jar ]; then \
	  echo "installing Debian's zookeeper package"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq zookeeper >/dev/null) || \
	  { echo "could not install zookeeper (run as root, or: sudo apt-get install zookeeper)"; exit 1; }; \
	fi

# Debian's PostgreSQL server binaries, for the trace store's tests (the test kit starts a
# throwaway server from /usr/lib/postgresql/*/bin). Skipped when they are already there.
postgresql:
	@if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then \
	  echo "installing Debian's postgresql package"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null) || \
	  { echo "could not install postgresql (run as root, or: sudo apt-get install postgresql)"; exit 1; }; \
	fi

deps: venv zookeeper postgresql

gen: $(STAMP)
	rm -rf $(GEN_DIR) && mkdir -p $(GEN_DIR)
	$(PY) -m grpc_tools.protoc -I proto -I $(SITE) \
	  --python_out=$(GEN_DIR) --pyi_out=$(GEN_DIR) --grpc_python_out=$(GEN_DIR) $(PROTOS)
	$(PY) -m grpc_tools.protoc -I proto -I $(SITE) --include_imports --include_source_info \
	  --descriptor_set_out=$(GEN_DIR)/elasticjob_cloud.pb $(PROTOS) \
	  google/rpc/status.proto google/rpc/error_details.proto
	find $(GEN_DIR)/elasticjob -type d -exec touch {}/__init__.py \;

# CI fails when gen/ no longer matches proto/.
gen-check: $(STAMP)
	tmp=$$(mktemp -d) && $(MAKE) -s gen GEN_DIR=$$tmp && diff -r -x __pycache__ $$tmp gen && rm -rf $$tmp \
	  || { echo "gen/ is stale: run 'make gen' and commit"; exit 1; }

lint: $(STAMP)
	$(VENV)/bin/ruff check $(LINTED)
	$(VENV)/bin/ruff format --check $(LINTED)
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

test: deps gen-check lint
	$(VENV)/bin/pytest -q

test-unit: $(STAMP)
	$(VENV)/bin/pytest -q tests/unit

# The fault-injection suite alone (it also runs in `make test`).
test-chaos: deps
	$(VENV)/bin/pytest -q -m chaos tests/chaos

# exec: python replaces the shell, so make is its parent (it stops the stack when make dies).
run: deps
	exec $(PY) -m devstack

bench: deps
	$(PY) -m bench

# The executor, its product modules and its pure-Python libraries in one file (see tools/build_executor.py).
executor: $(STAMP)
	$(PY) -m tools.build_executor $(EXECUTOR_ZIPAPP)

clean:
	rm -rf var dist .pytest_cache .mypy_cache .ruff_cache
