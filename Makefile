# MES Messagerie: everything a developer or CI runs. Needs GNU make and python3 >= 3.11, nothing
# else: uv comes from PyPI into .tools/, the project's environment is .venv/ (from uv.lock).
#
# uv lives in .tools/ and not in .venv/ because `uv sync` removes from .venv/ whatever the lock
# does not list, uv included.

PYTHON ?= python3
UV_VERSION ?= 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=
ARGS ?=
SRC_DIRS := contracts/src libs/platform/src $(wildcard services/*/src) gateway/src $(wildcard tools/*/src)

# Never let uv download a Python of its own: use the machine's. Trust the system's certificate
# store (where a TLS proxy's CA is installed), as pip and curl do.
export UV_PYTHON_DOWNLOADS := never
export UV_SYSTEM_CERTS ?= 1

.DEFAULT_GOAL := help
.PHONY: help venv lock deps-latest run test lint bench openapi openapi-tools clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(UV):
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
	  || { echo "Python >= 3.11 is needed (found: $$($(PYTHON) --version 2>&1))"; exit 1; }
	$(PYTHON) -m venv $(TOOLS) \
	  || { echo "could not create $(TOOLS)/: on Debian/Ubuntu, apt-get install python3-venv"; exit 1; }
	$(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

venv: $(UV) ## create or update .venv/ from uv.lock (all packages, dev tools)
	$(UV) sync --all-packages --frozen --compile-bytecode --python $(PYTHON)

lock: $(UV) ## update uv.lock after a change of dependencies
	$(UV) lock

# The workspace's packages, editable, for an environment built outside uv.lock: every folder
# with a pyproject.toml (tools/openapi holds npm tools, not a Python package).
MEMBERS := $(patsubst %/pyproject.toml,%,$(wildcard contracts/pyproject.toml libs/*/pyproject.toml \
  services/*/pyproject.toml gateway/pyproject.toml tools/*/pyproject.toml))
LATEST := .venv-latest

deps-latest: $(UV) ## the suite against the newest release of every dependency, in .venv-latest/ (uv.lock untouched)
	rm -rf $(LATEST)
	$(UV) venv --quiet --python $(PYTHON) $(LATEST)
	$(UV) pip install --python $(LATEST)/bin/python --resolution highest --upgrade \
	  --group dev $(addprefix -e ,$(MEMBERS))
	$(UV) pip list --python $(LATEST)/bin/python --outdated || true
	$(LATEST)/bin/pytest $(PYTEST_ARGS)

run: venv ## start everything locally (NATS, SMTP sink, services, gateway) with demo data
	$(BIN)/mes-dev $(ARGS)

# The npm tools an editor runs on gateway/openapi.json (Spectral, openapi-typescript, tsc), at
# the versions of tools/openapi/package-lock.json. Without node the tests that need them skip,
# saying so.
OPENAPI_TOOLS := tools/openapi/node_modules/.installed

openapi-tools: $(OPENAPI_TOOLS) ## install the pinned npm tools that lint the OpenAPI and generate types from it

$(OPENAPI_TOOLS): tools/openapi/package.json tools/openapi/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
	  cd tools/openapi && npm ci --no-audit --no-fund --loglevel=error && touch node_modules/.installed; \
	else echo "npm not found: the OpenAPI lint and TypeScript tests will be skipped"; fi

test: venv openapi-tools ## run the whole test suite (extra pytest arguments: PYTEST_ARGS='-k inbox -x')
	$(BIN)/pytest $(PYTEST_ARGS)

lint: venv ## ruff, formatting, mypy (strict, source dirs) and import contracts
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy $(SRC_DIRS)
	@if [ -f .importlinter ] || grep -q '^\[tool\.importlinter\]' pyproject.toml; then \
	  echo "$(BIN)/lint-imports"; $(BIN)/lint-imports; fi

bench: venv ## benchmark the whole stack (arguments: ARGS='...')
	$(BIN)/python -m mes_bench $(ARGS)

openapi: venv ## regenerate gateway/openapi.json and contracts/asyncapi.json
	$(BIN)/python -m mes_gateway.openapi --output gateway/openapi.json
	$(BIN)/python -m mes_contracts.asyncapi contracts/asyncapi.json

clean: ## remove var/ (local databases, NATS store, logs, mails)
	rm -rf var/
