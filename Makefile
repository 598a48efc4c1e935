# Two entry points on a fresh machine: `make book` (the main job) and `make test`.
# Each creates .venv when missing, installs the exact versions pinned in requirements.lock (CPU
# torch 2.13.0), then the project itself without dependencies, registers the Jupyter kernel inside
# the venv, and runs. `make lock` refreshes requirements.lock from pyproject.toml.
# GPU runners: `make test GPU=1` installs requirements-gpu.lock instead into .venv-gpu (PyPI's CUDA 13
# build of torch 2.13.0 with its nvidia-* libraries pinned); `sparks doctor` says which build is installed.

PYTHON ?= python3
GPU ?=
# the GPU install has its own venv: pip keeps an installed CPU torch (2.13.0+cpu satisfies torch==2.13.0)
VENV   ?= $(if $(GPU),.venv-gpu,.venv)
PY     := $(VENV)/bin/python
# Extra papermill parameters for every page, e.g. make book BOOK_ARGS="-p model organism/sft@final -p device cuda"
BOOK_ARGS ?=

export HF_HUB_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false

LOCK   := requirements.lock
GPU_LOCK := requirements-gpu.lock
PIP_TOOLS := pip-tools==7.6.2
# The PyTorch CPU wheel index beside PyPI: the lock's `torch==2.13.0` then resolves to 2.13.0+cpu
# (no CUDA libraries). It is asked for torch alone (pip retries an unreachable index for every
# package it looks up; it only warns, then takes what PyPI serves); the lock then keeps that torch.
TORCH_CPU_INDEX := https://download.pytorch.org/whl/cpu
INSTALL_LOCK := $(if $(GPU),$(GPU_LOCK),$(LOCK))
STAMP  := $(VENV)/.installed-$(if $(GPU),gpu,cpu)

.PHONY: book publish test browser lock clean-cache clean

# One shell for the whole install, so that bash's `times` (CPU seconds of its children) covers it:
# the book's stage table reads <venv>/.install-times (thinking_sparks.runs.stages).
$(STAMP): pyproject.toml $(LOCK) $(INSTALL_LOCK)
	@set -e; t0=$$(date +%s.%N); set -x; \
	test -x $(PY) || $(PYTHON) -m venv $(VENV); \
	$(if $(GPU),,$(PY) -m pip install --quiet --no-deps --retries 1 --timeout 15 --extra-index-url $(TORCH_CPU_INDEX) "$$(grep -m1 '^torch==' $(LOCK))";) \
	$(PY) -m pip install --quiet -r $(INSTALL_LOCK); \
	$(PY) -m pip install --quiet --no-deps -e .; \
	$(PY) -c "from thinking_sparks.runs import ensure_kernel; ensure_kernel()"; \
	set +x; { echo "$$t0 $$(date +%s.%N)"; times; } > $(VENV)/.install-times; \
	touch $(STAMP)

# Pin every dependency of pyproject.toml (extras book, test, dev) in requirements.lock: `make lock`
# keeps the current pins and adds what pyproject.toml gained; `make lock UPGRADE=1` moves every pin
# to the newest version the index serves. lock-constraints.txt caps what pyproject.toml cannot (wandb,
# see there). Run `make test` (and `sparks doctor`) before committing it. requirements-gpu.lock is
# written by hand from the torch wheel's Requires-Dist (see its header). Where the CPU index cannot be
# reached, `PIP_RETRIES=0 make lock` spares pip's retries for every package (minutes, not most of an hour).
UPGRADE ?=
lock:
	test -x .lock-venv/bin/pip-compile || { $(PYTHON) -m venv .lock-venv && .lock-venv/bin/pip install --quiet $(PIP_TOOLS); }
	.lock-venv/bin/pip-compile --quiet $(if $(UPGRADE),--upgrade) --allow-unsafe --extra dev --strip-extras \
	  --constraint lock-constraints.txt --extra-index-url $(TORCH_CPU_INDEX) \
	  --no-emit-index-url --no-emit-find-links --output-file $(LOCK) pyproject.toml
	sed -i -e '/^thinking-sparks @ /d' -e 's/^\(torch==[0-9.]*\)+cpu$$/\1/' $(LOCK)

# the epoch second this make started: the book's stage table includes the install when it ran now
MAKE_T0 := $(shell date +%s)

book: $(STAMP)
	SPARKS_MAKE_T0=$(MAKE_T0) $(PY) -m thinking_sparks.runs book $(BOOK_ARGS)
	@echo "book: $(CURDIR)/book/_build/html/index.html"

# Publish the built book to GitHub Pages: ghp-import (pinned in requirements.lock) commits
# book/_build/html to the gh-pages branch (with .nojekyll: Sphinx's _static folders) and pushes it to
# $(REMOTE). Build first with `make book`; .github/workflows/book.yml runs both on a runner.
REMOTE ?= origin
publish: $(STAMP)
	@test -f book/_build/html/index.html || { echo "publish: no book/_build/html/index.html; run make book first" >&2; exit 2; }
	$(PY) -m ghp_import --no-jekyll --push --force --remote $(REMOTE) --branch gh-pages \
	  --message "book from $$(git rev-parse --short HEAD)" book/_build/html

# Debian's chromium for the browser test (no browser download: playwright drives the system one).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

# The layer contract (pyproject.toml [tool.importlinter]) first: a room importing a room above it fails here.
test: $(STAMP) browser
	$(VENV)/bin/lint-imports --no-cache
	$(PY) -m pytest -q $(PYTEST_ARGS)

clean-cache:
	rm -rf .cache/results

clean:
	rm -rf book/_build book/pages .cache .lock-venv
