#!/usr/bin/env bash
# Builds the pinned stack into .venv/ (called by `make venv`; safe to re-run).
#
#   1. torch + setuptools<81 + wheel + ninja        (requirements/build.txt)
#   2. mmcv 2.1.0 from source WITH compiled ops      (CPU, 2 cores: roughly 12-18 min,
#      README "Start here"; pip's wheel cache makes every later install instant)
#   3. mmengine, mmdet, pycocotools, test tools      (requirements/runtime.txt, tests.txt)
#   4. this package, editable
#   5. fail loudly unless `from mmcv.ops import RoIAlign, nms` works
#      (CUDA build: unless nms and RoIAlign work on CUDA tensors)
#
# Every pip call uses requirements/constraints.txt so nothing can swap torch.
# CUDA ops are built when torch sees a GPU, or when asked with MMCV_CUDA=1 (or
# FORCE_CUDA=1; no GPU needed), and then checked on CUDA tensors when there is one.
# TORCH_CUDA_ARCH_LIST defaults to the visible GPUs' compute capabilities. nvcc: the
# system's when its CUDA major is torch's; otherwise NVIDIA's nvcc wheels at torch's CUDA
# version, installed into the venv and linked into $VENV/cuda (tools/cuda_home.sh).
# pip's build subprocess (--no-build-isolation) finds ninja only on PATH, so $VENV/bin goes
# first; without ninja, torch would compile mmcv's ops one file at a time.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=tools/cuda_home.sh
source tools/cuda_home.sh

ASKED=${MMCV_CUDA:-${FORCE_CUDA:-0}}
PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
fi
VENV=$(cd "$VENV" && pwd)
PY="$VENV/bin/python"
PIP=("$PY" -m pip install --disable-pip-version-check -c requirements/constraints.txt)

"$PY" -m pip install -q --disable-pip-version-check --upgrade "pip>=24,<26"
echo "[setup] 1/5 torch, setuptools<81, wheel, ninja"
"${PIP[@]}" -q -r requirements/build.txt
export PATH="$VENV/bin:$PATH"
if ! ninja --version >/dev/null 2>&1; then
    echo "error: no ninja in $VENV/bin after step 1 (requirements/build.txt); mmcv's ops would compile one file at a time: $PY -m pip install ninja" >&2
    exit 1
fi

# -- CUDA ops: asked for, or a GPU that torch sees ----------------------------
CUDA_OPS=0
if [ "$ASKED" = 1 ] || "$PY" -c "import sys, torch; sys.exit(not torch.cuda.is_available())" 2>/dev/null; then
    CUDA_OPS=1
fi
if [ "$CUDA_OPS" = 1 ]; then
    # The visible GPUs' compute capabilities ("9.0" on an H100/H200) unless set; torch's CUDA.
    if ! CUDA_INFO=$(TORCH_CUDA_ARCH_LIST=${TORCH_CUDA_ARCH_LIST:-} "$PY" -W ignore - <<'PY'
import os, sys, torch
if torch.version.cuda is None:
    sys.exit(f"error: CUDA ops asked for, but torch {torch.__version__} is a CPU build; install its CUDA build")
archs = os.environ["TORCH_CUDA_ARCH_LIST"]
if not archs and not torch.cuda.is_available():
    sys.exit("error: CUDA ops asked for, but torch sees no GPU to take the arch list from; set TORCH_CUDA_ARCH_LIST, e.g. '9.0'")
if not archs:
    caps = sorted({torch.cuda.get_device_capability(i) for i in range(torch.cuda.device_count())})
    archs = ";".join(f"{major}.{minor}" for major, minor in caps)
print(torch.version.cuda, archs)
PY
    ); then
        exit 2
    fi
    read -r TORCH_CUDA TORCH_CUDA_ARCH_LIST <<<"$CUDA_INFO"
    export TORCH_CUDA_ARCH_LIST
    if ! NVCC=$(matching_system_nvcc "$TORCH_CUDA"); then
        SPEC=$(torch_toolkit_spec "$PY") || exit 2
        PIP_CONSTRAINT=requirements/constraints.txt assemble_cuda_home "$PY" "$VENV/cuda" "$SPEC" || exit 2
        export CUDA_HOME="$VENV/cuda"
        export PATH="$VENV/bin:$CUDA_HOME/bin:$PATH"
        NVCC="$CUDA_HOME/bin/nvcc"
    fi
    check_cuda_archs "$NVCC" "$TORCH_CUDA_ARCH_LIST" || exit 2
fi

# -g0: no debug info. Python's CFLAGS (which distutils *replaces* with $CFLAGS when it is
# set) carry -g and -O3; keep them and append -g0, so the ops stay optimised.
CORES=$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc)  # nproc alone would count OMP_NUM_THREADS
MMCV_CFLAGS="${CFLAGS:-$("$PY" -c 'import sysconfig; print(sysconfig.get_config_var("CFLAGS") or "")')} -g0"
if [ "$CUDA_OPS" = 1 ]; then
    if "$PY" -c "import sys; from mmcv.ops import get_compiling_cuda_version as v; sys.exit(v() == 'not available')" 2>/dev/null; then
        echo "[setup] 2/5 mmcv with CUDA ops already present"
    else
        echo "[setup] 2/5 mmcv==2.1.0 with CUDA ops for arch ${TORCH_CUDA_ARCH_LIST} (nvcc: $NVCC)"
        # --no-cache-dir: pip's wheel cache would hand back an earlier CPU-only build.
        MMCV_WITH_OPS=1 FORCE_CUDA=1 MAX_JOBS=${MAX_JOBS:-$CORES} CFLAGS="$MMCV_CFLAGS" \
            "${PIP[@]}" -q --no-build-isolation --no-cache-dir --force-reinstall --no-deps mmcv==2.1.0
    fi
elif "$PY" -c "import mmcv, mmcv.ops" 2>/dev/null; then
    echo "[setup] 2/5 mmcv with ops already present"
else
    echo "[setup] 2/5 mmcv==2.1.0 with ops (a fresh build on 2 cores: roughly 12-18 min; cached afterwards)"
    MMCV_WITH_OPS=1 MAX_JOBS=${MAX_JOBS:-$CORES} CFLAGS="$MMCV_CFLAGS" \
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
    echo "error: mmcv is installed WITHOUT compiled ops (mmcv._ext is missing); fix: $PY -m pip uninstall -y mmcv && $PY -m pip cache remove mmcv && make venv" >&2
    exit 1
fi
if [ "$CUDA_OPS" = 1 ] && "$PY" -c "import sys, torch; sys.exit(not torch.cuda.is_available())"; then
    if ! "$PY" tools/check_mmcv_ops.py --cuda; then
        echo "error: mmcv's CUDA ops do not work (line above); rebuild: $PY -m pip uninstall -y mmcv && make venv" >&2
        exit 1
    fi
elif [ "$CUDA_OPS" = 1 ]; then
    echo "[setup] no GPU here: mmcv's CUDA ops were built for ${TORCH_CUDA_ARCH_LIST}, not run"
fi
"$PY" - <<'PY'
import mmcv, mmdet, mmengine, torch
print(f"[setup] ok: torch {torch.__version__} (cuda={torch.cuda.is_available()}), "
      f"mmcv {mmcv.__version__} with ops, mmengine {mmengine.__version__}, mmdet {mmdet.__version__}")
PY
