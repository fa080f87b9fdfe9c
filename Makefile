# `make demo` runs the main job, `make test` runs every test; each sets itself up first.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV := .venv
BIN := $(VENV)/bin
# Nothing is downloaded at run time: these must be set before huggingface_hub is imported.
export HF_HUB_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export MPLBACKEND := Agg
# Set-up is redone only when the project's requirements change.
STAMP := $(VENV)/.setup-$(shell cat settings.ini setup.py | sha256sum | cut -c1-16)

.PHONY: help setup demo test check-clean check-export check-readme check-style check-layout nbtest pytest \
	bench gpu-check export clean-venv

help:
	@echo "make demo   set up (venv, pip, apt) and run the main job: p2ikit demo"
	@echo "make test   set up and run every check and test (notebooks, package sync, pytest)"
	@echo "make bench  run the benchmarks in bench/ (they print figures)"
	@echo "make gpu-check  on a CUDA machine: recipes with autocast, GPU ops against the CPU"

setup: $(STAMP)

$(STAMP): settings.ini setup.py tools/setup.sh
	bash tools/setup.sh $(VENV)
	rm -f $(VENV)/.setup-*
	touch $@

demo: setup
	$(BIN)/p2ikit demo

# Stops at the first failure; the order is cheapest first.
test: setup check-clean check-export check-readme check-style check-layout nbtest pytest

check-clean: setup
	bash tools/unchanged.sh "notebooks are not clean: run nbdev_clean and commit" nbs -- $(BIN)/nbdev_clean

check-export: setup
	bash tools/unchanged.sh "p2ikit/ is not what nbs/ exports: run nbdev_export and commit" p2ikit -- $(BIN)/nbdev_export

check-readme: setup
	bash tools/unchanged.sh "README.md is not what nbs/index.ipynb generates: run tools/make_readme.py and commit" README.md -- $(BIN)/python tools/make_readme.py

# Lines of at most 100 characters, one statement per line (ruff); cells, modules, imports, registries.
check-style: setup
	$(BIN)/ruff check nbs tests bench tools
	@# undefined names (a name defined only in a test cell) and repeated dict keys in the package
	$(BIN)/ruff check --select F821,F601 p2ikit

check-layout: setup
	$(BIN)/python tools/check_layout.py

# Each prints its 15 slowest (notebooks; tests and their set-ups), to watch the 12-minute budget.
nbtest: setup
	OMP_NUM_THREADS=1 P2IKIT_QUICK=1 P2IKIT_TUTORIAL_FAST=1 $(BIN)/nbdev_test --n_workers 2 --flags slow --do_print --timing \
		| $(BIN)/python tools/slowest.py 15

# Two workers, one thread each, a file's tests kept on one worker (module-scoped fixtures).
pytest: setup
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest tests/ -x -q -n 2 --dist loadfile --durations=15

bench: setup
	for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b; done

# Prints "no CUDA device" and succeeds where torch sees no GPU.
gpu-check: setup
	$(BIN)/python tools/gpu_check.py

export: setup
	$(BIN)/nbdev_export && $(BIN)/nbdev_clean && $(BIN)/python tools/make_readme.py

clean-venv:
	rm -rf $(VENV)
