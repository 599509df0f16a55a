#!/usr/bin/env bash
# The prepared GPU check of issue 11, for a bare CUDA machine without internet.
# `bash tools/gpu_check.sh --help` says what it needs and does.
set -uo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)

usage() {
    cat <<'EOF'
Usage: bash tools/gpu_check.sh --wheelhouse DIR [--skip-build] [--venv DIR] [--results DIR]
                               [--doc FILE] [--python PY]

One run on a CUDA machine without internet (made for: Python 3.12, torch 2.11 + CUDA 13,
triton 3.6, nvcc 13.0, 16 cores, one H200; no mmcv / mmdet / mmengine). It prints each
phase's duration, and writes docs/benchmarks_gpu.md after every phase, so a run cut short
still leaves the figures of the phases it finished. Budget: GPU_CHECK_BUDGET_S (default
520 s, 20 s under 9 min of wall time); each phase is cut at what the later ones need.

  a  install mmengine, mmdet, pycocotools and setuptools<81 from the wheelhouse into
     --venv (a venv over the system's torch/triton: --system-site-packages)
  b  EvoNorm-S0 Triton kernels (torch + triton + mmengine only: MMDET_EVONORM_KERNELS_ONLY=1):
     pytest -m gpu tests/test_models/test_layers/test_evonorm_triton.py, then
     tools/benchmark_norm.py --device cuda
  c  mmcv 2.1.0 from the wheelhouse sdist, CUDA ops for this GPU's arch only
     (FORCE_CUDA=1, TORCH_CUDA_ARCH_LIST=<capability>, MAX_JOBS=<cores>, CFLAGS ... -g0),
     built into a temporary folder and installed only once built; uninstalled again
     unless tools/check_mmcv_ops.py --cuda passes (nms and RoIAlign on CUDA tensors)
  d  this package's other CUDA tests: pytest -m gpu tests/ (without b's file)
  e  rows B1 and C4, random init, AMP, batch 8 of 800x1333 on one GPU: training images/s
     and inference ms/image, interleaved in one process (tools/benchmark_rows.py), with
     the targets B1 train >= 40 images/s and C4 inference <= 1.2x B1
  f  docs/benchmarks_gpu.md: machine, phases and durations, every figure

Options:
  --wheelhouse DIR  the folder of wheels + the mmcv sdist (below); optional with
                    --skip-build when mmengine, mmdet and pycocotools already import
  --skip-build      skip phase c: mmcv 2.1.0 with CUDA ops is already installed
  --venv DIR        the venv of phase a (default /tmp/mmdet_evonorm_gpu_venv); a venv
                    left by an unfinished run is removed first
  --results DIR     raw outputs and logs (default work_dirs/gpu_check)
  --doc FILE        the report (default docs/benchmarks_gpu.md)
  --python PY       the interpreter with torch (default python3)

Preparing the wheelhouse (on a machine with internet; any OS, the flags pick the target's
wheels):

  WH=wheelhouse
  pip download -d $WH --only-binary=:all: --python-version 3.12 --implementation cp \
      --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 \
      --platform manylinux_2_28_x86_64 \
      mmengine==0.10.7 mmdet==3.3.0 'pycocotools>=2.0.8' 'setuptools>=77,<81'
  # mmcv's sdist: pip runs its setup.py, which imports torch, so use a Python with torch
  # (e.g. this repo's .venv/bin/python) and no build isolation:
  .venv/bin/python -m pip download -d $WH --no-deps --no-binary :all: --no-build-isolation \
      mmcv==2.1.0
  # then copy $WH and this repository to the GPU machine, and there:
  bash tools/gpu_check.sh --wheelhouse $WH

  The dependencies pip adds (numpy, opencv-python, matplotlib, shapely, ...) are installed
  only where the machine lacks them. Expected in DIR: mmengine-0.10.7-*.whl,
  mmdet-3.3.0-*.whl, pycocotools-*.whl, setuptools-*.whl and mmcv-2.1.0.tar.gz.

Exit status: 0 ran to the end (a missed target is reported, not an error), 1 a phase
failed (the report says which and why), 2 bad input (one line, nothing installed).
EOF
}

die() { echo "error: $1" >&2; exit "${2:-2}"; }

# -- arguments ------------------------------------------------------------------
WHEELHOUSE="" SKIP_BUILD=0 PYTHON=${PYTHON:-python3}
VENV=/tmp/mmdet_evonorm_gpu_venv RESULTS=work_dirs/gpu_check DOC=docs/benchmarks_gpu.md
while [ $# -gt 0 ]; do
    case "$1" in
        -h | --help) usage; exit 0 ;;
        --skip-build) SKIP_BUILD=1 ;;
        --wheelhouse | --venv | --results | --doc | --python)
            [ $# -ge 2 ] && [ "${2#--}" = "$2" ] || die "$1 needs a value (see --help)"
            case "$1" in
                --wheelhouse) WHEELHOUSE=$2 ;;
                --venv) VENV=$2 ;;
                --results) RESULTS=$2 ;;
                --doc) DOC=$2 ;;
                --python) PYTHON=$2 ;;
            esac
            shift ;;
        *) die "unknown argument $1 (see --help)" ;;
    esac
    shift
done

# -- bad input: checked before anything is installed -----------------------------
need_wheel() {  # need_wheel PATTERN: the wheelhouse must hold a file matching it
    compgen -G "$WHEELHOUSE/$1" >/dev/null \
        || die "--wheelhouse $WHEELHOUSE has no $1; prepare it as --help shows"
}
if [ -n "$WHEELHOUSE" ]; then
    [ -d "$WHEELHOUSE" ] || die "--wheelhouse $WHEELHOUSE is not a folder; prepare it as --help shows"
    WHEELHOUSE=$(cd "$WHEELHOUSE" && pwd)
    for pattern in "mmengine-0.10.7-*.whl" "mmdet-3.3.0-*.whl" "pycocotools-*.whl" "setuptools-*.whl"; do
        need_wheel "$pattern"
    done
    [ "$SKIP_BUILD" = 1 ] || need_wheel "mmcv-2.1.0.tar.gz"
elif [ "$SKIP_BUILD" = 0 ]; then
    die "--wheelhouse DIR is required (mmcv is built from its sdist there); see --help"
elif ! "$PYTHON" -c "import mmengine, mmdet, pycocotools" 2>/dev/null; then
    die "--skip-build without --wheelhouse needs mmengine, mmdet and pycocotools importable by $PYTHON"
fi
command -v "$PYTHON" >/dev/null || die "--python $PYTHON: no such interpreter"
# The GPU and its arch: torch must see it and have kernels for it; nvcc must know it.
GPU_INFO=$("$PYTHON" - <<'PY' 2>&1
import sys
try:
    import torch
except ImportError as exc:
    sys.exit(f"no torch for this interpreter ({exc})")
if not torch.cuda.is_available():
    sys.exit(f"torch {torch.__version__} sees no CUDA GPU (torch.version.cuda={torch.version.cuda}); "
             "run this on a CUDA machine")
major, minor = torch.cuda.get_device_capability(0)
arch = f"sm_{major}{minor}"
built = torch.cuda.get_arch_list()
if arch not in built and not any(a.startswith("compute_") and int(a[8:]) <= major * 10 + minor
                                 for a in built):
    sys.exit(f"torch {torch.__version__} has no kernels for this GPU's {arch} (built for "
             f"{' '.join(built)}); install a torch build for it")
print(f"{major}.{minor}")
PY
) || die "$(echo "$GPU_INFO" | tail -1)"
ARCH=$(echo "$GPU_INFO" | tail -1)  # the last line; warnings may come before it
if [ "$SKIP_BUILD" = 0 ]; then
    NVCC=$(command -v nvcc || echo "${CUDA_HOME:-/usr/local/cuda}/bin/nvcc")
    [ -x "$NVCC" ] || die "phase c needs nvcc (not on PATH, not in ${CUDA_HOME:-/usr/local/cuda}/bin); install the CUDA toolkit or use --skip-build"
    if CODES=$("$NVCC" --list-gpu-code 2>/dev/null) && ! grep -qx "sm_${ARCH/./}" <<<"$CODES"; then
        die "$NVCC cannot build for this GPU's sm_${ARCH/./} (it knows: $(echo $CODES)); use an nvcc that does"
    fi
fi

# -- the run --------------------------------------------------------------------
mkdir -p "$RESULTS" "$(dirname "$DOC")"
RESULTS=$(cd "$RESULTS" && pwd)
BUDGET=${GPU_CHECK_BUDGET_S:-520}
START=$(date +%s)
PY=$PYTHON
STATUS=0
: >"$RESULTS/phases.tsv"

left() { echo $((BUDGET - ($(date +%s) - START))); }
cap() {  # cap MAX RESERVE: seconds a phase may take, keeping RESERVE for the later ones
    local t=$(($(left) - $2)); [ "$t" -gt "$1" ] && t=$1; [ "$t" -lt 1 ] && t=1; echo "$t"
}

# phase NAME TITLE TIMEOUT COMMAND...: run it under `timeout`, log it, record its duration.
phase() {
    local name=$1 title=$2 limit=$3 t0 rc
    shift 3
    echo "[gpu_check] phase $name: $title (limit ${limit} s)"
    t0=$(date +%s)
    # A shell function runs in a child bash (the functions and variables are exported).
    timeout --kill-after=10 "$limit" bash -c '"$@"' phase "$@" >"$RESULTS/$name.log" 2>&1
    rc=$?
    local took=$(($(date +%s) - t0)) state=ok
    [ $rc -eq 0 ] || state="failed (exit $rc)"
    [ $rc -eq 124 ] || [ $rc -eq 137 ] && state="cut at ${limit} s"
    printf '%s\t%s\t%s\t%s\n' "$name" "$title" "$state" "$took" >>"$RESULTS/phases.tsv"
    echo "[gpu_check] phase $name: $state after ${took} s"
    [ $rc -eq 0 ] || { tail -5 "$RESULTS/$name.log" | sed 's/^/    /'; STATUS=1; }
    render_doc
    return $rc
}

render_doc() {
    {
        echo "# GPU check (\`tools/gpu_check.sh\`)"
        echo
        echo "Written by \`bash tools/gpu_check.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC'), one run;"
        echo "every figure below comes from this run. Raw logs: \`$RESULTS\` on that machine."
        echo
        echo "## Machine"
        echo
        cat "$RESULTS/machine.md" 2>/dev/null
        echo
        echo "## Phases"
        echo
        echo "| phase | what | result | seconds |"
        echo "|---|---|---|---:|"
        awk -F'\t' '{ printf "| %s | %s | %s | %s |\n", $1, $2, $3, $4 }' "$RESULTS/phases.tsv"
        for part in b_tests norm c_build d_tests rows targets; do
            if [ -s "$RESULTS/$part.md" ]; then echo; cat "$RESULTS/$part.md"; fi
        done
    } >"$DOC.tmp" && mv "$DOC.tmp" "$DOC"
}

pytest_section() {  # pytest_section LOG TITLE: the summary line of a pytest log as Markdown
    local summary
    summary=$(grep -E "^(=+ )?[0-9]+ (passed|failed|error|skipped|deselected)" "$1" | tail -1)
    printf '## %s\n\n`%s`\n' "$2" "${summary:-no pytest summary (see the log)}"
}

"$PYTHON" - >"$RESULTS/machine.md" 2>"$RESULTS/machine.log" <<'PY'
import os, platform, subprocess, torch
props = torch.cuda.get_device_properties(0)
try:
    import triton
    triton_version = triton.__version__
except ImportError:
    triton_version = "not installed"
try:
    driver = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                            capture_output=True, text=True, timeout=20).stdout.strip() or "?"
except (OSError, subprocess.SubprocessError):
    driver = "? (no nvidia-smi)"
cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
            if line.startswith("model name")), platform.processor())
print(f"- GPU: {torch.cuda.device_count()} x {props.name}, {props.total_memory / 2**30:.0f} GiB, "
      f"compute capability {props.major}.{props.minor}, {props.multi_processor_count} SMs; "
      f"driver {driver}")
print(f"- torch {torch.__version__} (CUDA {torch.version.cuda}, cuDNN "
      f"{torch.backends.cudnn.version()}), triton {triton_version}, Python {platform.python_version()}")
print(f"- CPU: {cpu}, {os.cpu_count()} logical CPUs")
PY
render_doc
echo "[gpu_check] GPU arch $ARCH; budget ${BUDGET} s; results in $RESULTS; report $DOC"

# a: mmengine & co. into a venv over the system's torch; a venv of an unfinished run goes.
install_runtime() {
    rm -rf "$VENV"
    "$PYTHON" -m venv --system-site-packages "$VENV" || return 1
    "$VENV/bin/python" -m pip install -q --no-index --find-links "$WHEELHOUSE" --no-cache-dir \
        --disable-pip-version-check "setuptools>=77,<81" mmengine==0.10.7 mmdet==3.3.0 \
        "pycocotools>=2.0.8" && "$VENV/bin/python" -c "import mmengine, pycocotools"
}
export -f install_runtime
export PYTHON VENV WHEELHOUSE RESULTS ARCH
if [ -n "$WHEELHOUSE" ]; then
    if phase a "mmengine, mmdet, pycocotools from the wheelhouse" "$(cap 120 360)" install_runtime; then
        PY=$VENV/bin/python
    else
        rm -rf "$VENV"
        echo "error: installing from --wheelhouse $WHEELHOUSE failed (see $RESULTS/a.log); nothing was left installed" >&2
        exit 1
    fi
fi
export PY PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}" OMP_NUM_THREADS=${OMP_NUM_THREADS:-8}

# b: the kernels, before mmcv exists.
kernel_tests() {
    MMDET_EVONORM_KERNELS_ONLY=1 "$PY" -m pytest -q -p no:cacheprovider -m gpu \
        tests/test_models/test_layers/test_evonorm_triton.py
}
export -f kernel_tests
phase b "EvoNorm-S0 Triton kernel tests (CUDA)" "$(cap 150 330)" kernel_tests
pytest_section "$RESULTS/b.log" "EvoNorm-S0 kernel tests (phase b)" >"$RESULTS/b_tests.md"
norm_bench() {
    MMDET_EVONORM_KERNELS_ONLY=1 "$PY" tools/benchmark_norm.py --device cuda --out "$RESULTS/norm.md"
}
export -f norm_bench
phase b2 "EvoNorm-S0 benchmark (tools/benchmark_norm.py --device cuda)" "$(cap 120 300)" norm_bench

# c: mmcv with CUDA ops, built aside; installed only when built, kept only when it works.
build_mmcv() {
    local build
    build=$(mktemp -d) || return 1
    MMCV_WITH_OPS=1 FORCE_CUDA=1 TORCH_CUDA_ARCH_LIST=${TORCH_CUDA_ARCH_LIST:-$ARCH} \
        MAX_JOBS=${MAX_JOBS:-$(nproc)} \
        CFLAGS="${CFLAGS:-$("$PY" -c 'import sysconfig; print(sysconfig.get_config_var("CFLAGS") or "")')} -g0" \
        "$PY" -m pip wheel -q --no-deps --no-build-isolation --no-index --no-cache-dir \
        -w "$build" "$WHEELHOUSE/mmcv-2.1.0.tar.gz" || { rm -rf "$build"; return 1; }
    "$PY" -m pip install -q --no-index --no-deps --force-reinstall "$build"/mmcv-2.1.0-*.whl
    local rc=$?
    rm -rf "$build"
    [ $rc -eq 0 ] || return 1
    "$PY" tools/check_mmcv_ops.py --cuda && return 0
    "$PY" -m pip uninstall -q -y mmcv
    return 1
}
export -f build_mmcv
if [ "$SKIP_BUILD" = 1 ]; then
    phase c "mmcv CUDA ops already installed (--skip-build): check" 60 "$PY" tools/check_mmcv_ops.py --cuda
else
    phase c "mmcv 2.1.0 build, CUDA ops for sm_${ARCH/./}" "$(cap 400 150)" build_mmcv
fi
MMCV_OK=$?
{ echo "## mmcv (phase c)"; echo; echo '```'; tail -3 "$RESULTS/c.log"; echo '```'; } >"$RESULTS/c_build.md"
render_doc
if [ $MMCV_OK -ne 0 ]; then
    # A build cut mid-install must not leave an mmcv behind that looks usable.
    [ "$SKIP_BUILD" = 1 ] || "$PY" -m pip uninstall -q -y mmcv >/dev/null 2>&1
    echo "error: phase c failed, so phases d and e (which need mmcv's CUDA ops) did not run; see $DOC" >&2
    exit 1
fi

# d: every other CUDA test of the package (phase b ran the kernels' own).
phase d "pytest -m gpu tests/ (but the kernel tests of b)" "$(cap 120 130)" "$PY" -m pytest -q \
    -p no:cacheprovider -m gpu --ignore=tests/test_models/test_layers/test_evonorm_triton.py tests/
pytest_section "$RESULTS/d.log" "CUDA tests of the package (phase d)" >"$RESULTS/d_tests.md"

# e: B1 and C4 at full size, interleaved; then the targets.
phase e "B1 and C4: AMP, batch 8, 800x1333, random init" "$(cap 200 5)" \
    "$PY" tools/benchmark_rows.py --rows B1 C4 --device cuda --amp --input 800x1333 --batch 8 \
    --threads 8 --warmup 3 --rounds 10 --out "$RESULTS/rows.md"
# Issue 11's targets, read back from benchmark_rows' tables (wall time on a GPU).
[ -s "$RESULTS/rows.md" ] && "$PY" - "$RESULTS/rows.md" >"$RESULTS/targets.md" 2>&1 <<'PY' || STATUS=1
import re, sys
text = open(sys.argv[1]).read()
rows = [[c.strip() for c in line.strip().strip("|").split("|")] for line in text.splitlines()
        if line.startswith("|")]
header = next(r for r in rows if r[0] == "row")
b1 = next(r for r in rows if r[0].split()[0] == "B1")
b1_rate = float(b1[header.index("train images/s (wall)")])
c4 = next(r for r in rows if re.match(r"C4 inference .* B1$", r[0]))
c4_wall = float(c4[2].rstrip("×"))
print("## Targets (issue 11; one GPU, AMP, batch 8 of 800x1333)\n")
print("| target | measured | met |\n|---|---:|---|")
print(f"| B1 training >= 40 images/s | {b1_rate:.1f} images/s | {'yes' if b1_rate >= 40 else '**no**'} |")
print(f"| C4 inference <= 1.2x B1 | {c4_wall:.2f}x (wall, median of same-round ratios) "
      f"| {'yes' if c4_wall <= 1.2 else '**no**'} |")
PY

# f: the report.
render_doc
echo "[gpu_check] done in $(($(date +%s) - START)) s; report: $DOC"
[ -s "$RESULTS/targets.md" ] && sed 's/^/    /' "$RESULTS/targets.md"
exit $STATUS
