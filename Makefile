# Two entry points on a fresh machine: `make book` (the main job) and `make test`.
# Each creates .venv when missing, installs the project (CPU torch 2.13.0), registers the Jupyter
# kernel inside the venv, and runs.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
# Extra papermill parameters for every page, e.g. make book BOOK_ARGS="-p model organism/sft@final -p device cuda"
BOOK_ARGS ?=

export HF_HUB_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false

.PHONY: book test browser clean-cache clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	$(PY) -c "from thinking_sparks.runs import ensure_kernel; ensure_kernel()"
	touch $(STAMP)

book: $(STAMP)
	$(PY) -m thinking_sparks.runs book $(BOOK_ARGS)
	@echo "book: $(CURDIR)/book/_build/html/index.html"

# Debian's chromium for the browser test (no browser download: playwright drives the system one).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

test: $(STAMP) browser
	$(PY) -m pytest -q $(PYTEST_ARGS)

clean-cache:
	rm -rf .cache/results

clean:
	rm -rf book/_build book/pages .cache
