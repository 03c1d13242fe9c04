# Two commands from a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP_RUN := $(VENV)/.installed-run
STAMP_TEST := $(VENV)/.installed-test
STAMP_LAB := $(VENV)/.installed-lab
CHROMIUM ?= /usr/bin/chromium

.PHONY: demo test lint typecheck pytest ui notebooks lab bench clean

$(BIN)/python:
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP_RUN): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[notebook]'
	touch $@

$(STAMP_TEST): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test,dask]'
	touch $@ $(STAMP_RUN)

$(STAMP_LAB): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[lab]'
	touch $@ $(STAMP_RUN)

demo: $(STAMP_RUN)
	$(BIN)/fapilog-notebook demo

lint: $(STAMP_TEST)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

typecheck: $(STAMP_TEST)
	$(BIN)/mypy

pytest: $(STAMP_TEST)
	$(BIN)/pytest tests -m "not ui"

# The browser tests: JupyterLab driven by Debian's Chromium through Playwright.
ui: $(STAMP_TEST)
	@if [ -x "$(CHROMIUM)" ]; then \
		$(BIN)/pytest tests/test_ui.py -m ui; \
	else \
		echo "*** browser tests SKIPPED: $(CHROMIUM) not found (apt-get install chromium) ***"; \
	fi

notebooks: $(STAMP_TEST)
	$(BIN)/pytest --nbval notebooks --nbval-sanitize-with notebooks/sanitize.cfg -p no:randomly

test: lint typecheck pytest ui
	@if ls notebooks/*.ipynb >/dev/null 2>&1; then $(MAKE) --no-print-directory notebooks; fi

# JupyterLab in this project's environment, opened on the bundled notebooks.
lab: $(STAMP_LAB)
	$(BIN)/jupyter lab notebooks/

bench: $(STAMP_TEST)
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .pytest_cache .ruff_cache demo_audit_trail demo_audit_trail_tampered .ui-artifacts
