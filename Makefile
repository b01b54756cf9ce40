# Two commands on a fresh machine (README):  `make run`  and  `make test`.
# Both create the virtualenv and install the project on first use.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run demo test lint typecheck unit bench broker-start broker-stop clean deploy-check docs \
        lock newest

# The venv holds exactly the locked versions (hashes checked), then the project itself: made
# afresh (--clear) whenever the lock changes, so a package the lock dropped does not linger.
$(STAMP): pyproject.toml requirements-dev.lock
	$(PYTHON) -m venv --clear $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --require-hashes -r requirements-dev.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

## run: the whole pipeline on the local broker (starts Kafka when none is reachable)
run: $(STAMP)
	$(BIN)/nurture up

## demo: the same, fed by the simulator (synthetic candidates, no real people)
demo: $(STAMP)
	$(BIN)/nurture up --demo

## test: lint (ruff, import contracts), type-check and the full test suite against a real Kafka broker
test: lint typecheck
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy .

## bench: every benchmark, printing figures (needs the broker: `make broker-start`)
bench: $(STAMP)
	$(BIN)/nurture bench codec
	$(BIN)/nurture bench processor
	$(BIN)/nurture bench sdk
	$(BIN)/nurture bench gateway
	$(BIN)/nurture bench worker
	$(BIN)/nurture bench replay

## deploy-check: lint the Dockerfile, render the Helm chart (default and SASL_SSL values) and
## validate every manifest and deploy/docker-compose.yml offline (docs/deploy.md); the first
## run builds helm into ~/.cache/candidate-nurture/tools (deploy/helm/ensure_helm.sh)
deploy-check: $(STAMP)
	$(BIN)/hadolint Dockerfile
	$(BIN)/python -m deploy.helm.check

## docs: regenerate docs/configuration.md from the settings models, docs/asyncapi.yaml from
## schemas/ and docs/openapi.json from the gateway (tests/test_config.py and
## tests/test_contract_docs.py fail while one is stale)
docs: $(STAMP)
	$(BIN)/nurture config --docs > docs/configuration.md.tmp
	mv docs/configuration.md.tmp docs/configuration.md
	$(BIN)/nurture spec asyncapi > docs/asyncapi.yaml.tmp
	mv docs/asyncapi.yaml.tmp docs/asyncapi.yaml
	$(BIN)/nurture spec openapi > docs/openapi.json.tmp
	mv docs/openapi.json.tmp docs/openapi.json

## lock: re-resolve the lock files from pyproject.toml, keeping each locked version its range
## still allows: requirements-dev.lock (runtime + dev: make, CI) and requirements.lock (runtime
## only, the same versions: the Dockerfile). `make lock LOCK_ARGS=--upgrade` moves every package
## to the newest allowed, LOCK_ARGS="--upgrade-package NAME" one; then run `make test`.
UV_COMPILE := $(BIN)/uv pip compile pyproject.toml --quiet --generate-hashes \
              --python-version 3.11 --python-platform linux --custom-compile-command "make lock"
lock: $(STAMP)
	$(UV_COMPILE) --extra dev $(LOCK_ARGS) --output-file requirements-dev.lock
	$(UV_COMPILE) --constraint requirements-dev.lock --output-file requirements.lock

## newest: install the newest versions pyproject.toml allows into .venv-newest and report what
## breaks there (tests without a broker, ruff, mypy); never fails (CI runs it after make test)
newest: $(STAMP)
	.ci/newest

broker-start: $(STAMP)
	$(BIN)/nurture broker start

broker-stop: $(STAMP)
	$(BIN)/nurture broker stop

clean:
	rm -rf $(VENV) $(VENV)-newest build *.egg-info .pytest_cache .mypy_cache .ruff_cache
