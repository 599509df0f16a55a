# mmdet_evonorm — every target sets up .venv/ first (tools/setup_env.sh).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.stamp
PYTEST_ARGS ?=

.PHONY: help venv test quickstart lint format data bench ablation-bn clean

help:
	@echo "make quickstart  train + evaluate a CPU-sized Mask R-CNN on the embedded nuclei set (<10 min)"
	@echo "make test        run the test suite (CPU)"
	@echo "make lint        ruff check + format check"
	@echo "make bench       per-row CPU cost table (docs/benchmarks_rows.md, ~8 min)"
	@echo "make ablation-bn BN vs EvoNorm-S0 box heads on the nuclei folds, 3 evaluation arms (~3 h on 2 cores)"
	@echo "make venv        only build .venv/ (torch, mmcv with ops, mmengine, mmdet)"

$(STAMP): tools/setup_env.sh tools/cuda_home.sh requirements/*.txt pyproject.toml
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

# BN vs EvoNorm-S0 RoI heads (docs/ablation_nuclei.md): the single-factor pair on 4 folds
# x 2 seeds, the pair at twice the length, then the seph rows; ablate.py resumes.
JOBS ?= 2
ABLATE := $(PY) tools/ablate.py --preset nuclei --jobs $(JOBS)
ablation-bn: $(STAMP)
	$(ABLATE) C3-cosine C4-bnmask --folds 4 --seeds 2 --iters 400 --work-dir work_dirs/bn_heads/pair
	$(ABLATE) C3-cosine C4-bnmask --folds 1 --seeds 1 --iters 800 --work-dir work_dirs/bn_heads/pair_800
	$(ABLATE) C1 C2 B1 --folds 4 --seeds 1 --iters 400 --work-dir work_dirs/bn_heads/seph

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
