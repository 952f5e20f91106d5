# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
TORCH_SPEC := torch==2.13.0
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: run test lint bench venv dev browser clean-data prometheus

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch first: the local CPU wheel; anything else pulls a multi-GB CUDA build
	$(PY) -m pip install --quiet "$(TORCH_SPEC)"
	$(PY) -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

venv: $(VENV)/.installed
dev: $(VENV)/.installed-dev

run: $(VENV)/.installed
	$(VENV)/bin/supportbot db migrate
	$(VENV)/bin/supportbot ingest examples/acme --review-every 180d
	@# the server with the web playground (it prints the URL and a sign-in token); the terminal chat: supportbot chat
	@# the quick start acts on the sample company: its demo back end (every result says "demo"); plain `supportbot run` does not
	DEMO_BACKEND=$${DEMO_BACKEND:-true} $(VENV)/bin/supportbot run

# The browser tests drive Debian's chromium (Playwright's own browser builds cannot be downloaded here)
browser:
	@command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)
	@command -v chromium

test: $(VENV)/.installed-dev browser prometheus
	# the slowest tests are listed at the end: the whole suite must stay under 20 minutes on 2 cores. Two
	# pytest-xdist workers, one per core, each with its own embedded PostgreSQL and Redis: a lone run left a
	# core idle while tests waited on subprocesses and servers. A module stays whole on one worker.
	$(VENV)/bin/python -m pytest -n 2 --dist loadfile --cov --cov-report=term --durations=25

# The /metrics test scrapes with a real Prometheus server (Debian's package). As root (CI) it is installed
# when missing; elsewhere the test says how to get it and is skipped (never in CI, where CI=true fails it).
prometheus:
	@if ! command -v prometheus >/dev/null; then \
		if [ "$$(id -u)" = 0 ]; then \
			apt-get -o DPkg::Lock::Timeout=300 update -qq && DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends prometheus; \
		else \
			echo "prometheus is not installed (sudo apt-get install prometheus): the /metrics scrape test will be skipped"; \
		fi; \
	fi

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

bench: $(VENV)/.installed-dev
	$(VENV)/bin/python -m bench

clean-data:
	rm -rf .supportbot
