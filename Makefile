# mmdet_evonorm — every target sets up .venv/ first (tools/setup_env.sh).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.stamp
PYTEST_ARGS ?=

.PHONY: help venv test quickstart lint format data bench clean

help:
	@echo "make quickstart  train + evaluate a CPU-sized Mask R-CNN on the embedded nuclei set (<10 min)"
	@echo "make test        run the test suite (CPU)"
	@echo "make lint        ruff check + format check"
	@echo "make bench       per-row CPU cost table (docs/benchmarks_rows.md, ~8 min)"
	@echo "make venv        only build .venv/ (torch, mmcv with ops, mmengine, mmdet)"

$(STAMP): tools/setup_env.sh requirements/*.txt pyproject.toml
	PYTHON=$(PYTHON) bash tools/setup_env.sh
	@touch $@

venv: $(STAMP)

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

quickstart: $(STAMP)
	$(PY) tools/quickstart.py

data: $(STAMP)
	$(PY) tools/build_nuclei_dataset.py

bench: $(STAMP)
	$(PY) tools/benchmark_rows.py --out docs/benchmarks_rows.md --profile B1 C3 C4

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
