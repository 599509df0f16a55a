#!/usr/bin/env bash
# Builds the pinned stack into .venv/ (called by `make venv`; safe to re-run).
#
#   1. torch + setuptools<81 + wheel + ninja        (requirements/build.txt)
#   2. mmcv 2.1.0 from source WITH compiled ops      (~7 min on 2 cores, once:
#      pip's wheel cache makes every later install instant)
#   3. mmengine, mmdet, pycocotools, test tools      (requirements/runtime.txt, tests.txt)
#   4. this package, editable
#   5. fail loudly unless `from mmcv.ops import RoIAlign, nms` works
#
# Every pip call uses requirements/constraints.txt so nothing can swap torch.
# GPU machines: set FORCE_CUDA=1 (and TORCH_CUDA_ARCH_LIST) so mmcv compiles
# its CUDA kernels; see README "GPU install".
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
fi
PY="$VENV/bin/python"
PIP=("$PY" -m pip install --disable-pip-version-check -c requirements/constraints.txt)

"$PY" -m pip install -q --disable-pip-version-check --upgrade "pip>=24,<26"
echo "[setup] 1/5 torch, setuptools<81, wheel, ninja"
"${PIP[@]}" -q -r requirements/build.txt

if "$PY" -c "import mmcv, mmcv.ops" 2>/dev/null; then
    echo "[setup] 2/5 mmcv with ops already present"
else
    echo "[setup] 2/5 mmcv==2.1.0 with ops (a fresh build takes ~7 min on 2 cores; cached afterwards)"
    MMCV_WITH_OPS=1 MAX_JOBS=${MAX_JOBS:-$(nproc)} \
        "${PIP[@]}" -q --no-build-isolation mmcv==2.1.0
fi

echo "[setup] 3/5 mmengine, mmdet, pycocotools, test tools"
"${PIP[@]}" -q -r requirements/runtime.txt -r requirements/tests.txt
# timm is a test-only reference for EvoNorm-S0. Its package needs torchvision,
# which does not load beside the torch 2.13 CPU build, so it goes in without
# dependencies and the tests load only timm/layers (see README "Stack").
"${PIP[@]}" -q --no-deps "timm==1.0.31"

echo "[setup] 4/5 mmdet_evonorm (editable)"
"${PIP[@]}" -q --no-build-isolation --no-deps -e .

echo "[setup] 5/5 checking mmcv's compiled ops"
if ! "$PY" -c "from mmcv.ops import RoIAlign, nms; import mmdet_evonorm" ; then
    echo "ERROR: mmcv is installed WITHOUT compiled ops (mmcv._ext is missing)." >&2
    echo "       Fix: $PY -m pip uninstall -y mmcv && $PY -m pip cache remove mmcv && make venv" >&2
    exit 1
fi
"$PY" - <<'PY'
import mmcv, mmdet, mmengine, torch
print(f"[setup] ok: torch {torch.__version__} (cuda={torch.cuda.is_available()}), "
      f"mmcv {mmcv.__version__} with ops, mmengine {mmengine.__version__}, mmdet {mmdet.__version__}")
PY
