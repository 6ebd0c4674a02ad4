# The two set-up commands (see README.md): `make lab` and `make test`.
PYTHON ?= python3
PIP := $(PYTHON) -m pip
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: lab test test-deps test-upstream bench lint lint-py lint-js

## Install ltt-ext and run a tutored JupyterLab (built-in tutor engine unless an LLM is configured).
lab:
	$(PIP) install .
	$(PYTHON) -m jupyterlab $(ROOT_FLAG) $(LAB_ARGS)

## Install everything the tests need (Python, npm through jlpm, Debian's chromium) and run the full suite:
## the house rules first (they fail in seconds), then every test with the coverage floor, then Jupyter
## Server's own tests against ltt-ext.
test: test-deps lint
	$(PYTHON) -m pytest -ra --cov --cov-report=term $(PYTEST_ARGS)
	$(PYTHON) tests/upstream/run.py $(UPSTREAM_ARGS)

## Lint, format, type checks and the front end's unit tests.
lint: lint-py lint-js

## Jupyter Server's own kernel/session/websocket/API/gateway tests against ltt-ext (the installed
## jupyter_server's sdist is fetched once into build/upstream/; allow-list: tests/upstream/allowlist.txt).
test-upstream:
	$(PYTHON) tests/upstream/run.py $(UPSTREAM_ARGS)

test-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -q && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; }
	$(PIP) install -e ".[test]"
	cd tests/hub && npm ci --no-audit --no-fund  # configurable-http-proxy for the real-hub tests (tests/hub/package-lock.json)

## Python lint, format and type checks (settings in pyproject.toml; pre-commit runs the same).
lint-py:
	$(PYTHON) -m ruff check . && $(PYTHON) -m ruff format --check . && $(PYTHON) -m mypy

## Benchmarks: upstream jupyter-server vs stock nextgen-kernels-api vs ltt-ext, printed as a table.
bench:
	$(PIP) install -e ".[bench]"
	$(PYTHON) -m benchmarks $(BENCH_ARGS)

## The front end's house rules and unit tests (labextension/: ESLint + Prettier + Stylelint as in
## the JupyterLab extension template, then Jest with coverage).
lint-js:
	cd labextension && jlpm install && jlpm lint:check && jlpm test

## The tutor's hint evaluation: a corpus of beginner errors through a real server and kernel, scored per family
## (specific at level 1 and levels 1–2, correct, revealing, latency); HINT_EVAL_ARGS e.g. "--no-facts -v".
.PHONY: hint-eval
hint-eval:
	$(PYTHON) -m benchmarks.hint_eval $(HINT_EVAL_ARGS)
