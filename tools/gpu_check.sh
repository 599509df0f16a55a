#!/usr/bin/env bash
# The prepared GPU check, for a bare CUDA machine without internet.
# `bash tools/gpu_check.sh --help` says what it needs and does.
set -uo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)

usage() {
    cat <<'EOF'
Usage: bash tools/gpu_check.sh --wheelhouse DIR [--skip-build] [--venv DIR] [--results DIR]
                               [--doc FILE] [--python PY]

One run on a CUDA machine without internet (made for: Python 3.12, torch 2.11 + CUDA 13,
triton 3.6, nvcc 13.0, 16 cores, one H200; no mmcv / mmdet / mmengine / pytest / ninja). It
prints each phase's duration, and writes docs/benchmarks_gpu.md after every phase, so a run
cut short still leaves the figures of the phases it finished. Budget: GPU_CHECK_BUDGET_S
(default 520 s, 20 s under 9 min of wall time); each phase is cut at what the later ones need.

  a  install from the wheelhouse into --venv (a venv over the system's torch/triton:
     --system-site-packages): mmengine, mmdet, pycocotools, setuptools<81, pytest, ninja,
     and mmcv's prebuilt wheel when DIR has one
  b  EvoNorm-S0 Triton kernels (torch + triton + mmengine only: MMDET_EVONORM_KERNELS_ONLY=1):
     pytest -m gpu tests/test_models/test_layers/test_evonorm_triton.py, then
     tools/benchmark_norm.py --device cuda. Without a prebuilt mmcv wheel, mmcv's build
     starts in the background as b starts (niced, MAX_JOBS = cores - 2), so the CPU build
     overlaps the GPU kernel tests; the report says so beside b's figures
  c  mmcv 2.1.0 with CUDA ops: the prebuilt wheel is checked; otherwise c waits for the
     background build of the wheelhouse sdist (FORCE_CUDA=1, TORCH_CUDA_ARCH_LIST=<this GPU's
     capability>, CFLAGS ... -g0), installs the wheel only once built, and uninstalls it
     again unless tools/check_mmcv_ops.py --cuda passes (nms and RoIAlign on CUDA tensors)
  d  this package's other CUDA tests: pytest -m gpu tests/ (without b's file)
  e  rows B1 and C4, random init, AMP, batch 8 of 800x1333 on one GPU: training images/s
     and inference ms/image, interleaved in one process (tools/benchmark_rows.py), with
     the targets B1 train >= 40 images/s and C4 inference <= 1.2x B1
  f  docs/benchmarks_gpu.md: machine, phases and durations, every figure

Options:
  --wheelhouse DIR  the folder of wheels made by tools/make_gpu_wheelhouse.sh (below);
                    optional with --skip-build when mmengine, mmdet, pycocotools and pytest
                    already import
  --skip-build      mmcv 2.1.0 with CUDA ops is already installed: c only checks it
  --venv DIR        the venv of phase a (default /tmp/mmdet_evonorm_gpu_venv); a venv
                    left by an unfinished run is removed first
  --results DIR     raw outputs and logs (default work_dirs/gpu_check)
  --doc FILE        the report (default docs/benchmarks_gpu.md)
  --python PY       the interpreter with torch (default python3)

Preparing the wheelhouse, with no build on the GPU machine (on any x86-64 Linux machine with
internet; no GPU, no CUDA toolkit):

  bash tools/make_gpu_wheelhouse.sh --out wheelhouse --python 3.12 --torch 2.11.0 --arch 9.0
  # copy wheelhouse/ and this repository to the GPU machine, and there:
  bash tools/gpu_check.sh --wheelhouse wheelhouse

  make_gpu_wheelhouse.sh downloads the runtime wheels for that Python and cross-compiles
  mmcv's CUDA ops for that arch with NVIDIA's nvcc wheels (about 46 min on one core for
  sm_90); --mmcv-wheel WHL takes a prebuilt wheel instead. Its mmcv-build.json records the
  wheel's Python, torch release, CUDA major and GPU code; a wheel built for another Python,
  torch, CUDA major or GPU arch is refused here (one line, nothing installed). With
  `--dry-run` the wheelhouse has mmcv's sdist instead, and c builds mmcv here (in the
  background from the start of b; 46 core-minutes on a 2-core VM, not timed on a GPU machine).

  Expected in DIR: mmengine-0.10.7-*.whl, mmdet-3.3.0-*.whl, pycocotools-*.whl,
  setuptools-*.whl, pytest-*.whl, ninja-*.whl, their dependencies (installed only where the
  machine lacks them), and mmcv-2.1.0-*.whl + mmcv-build.json or mmcv-2.1.0.tar.gz.

Checked before anything is installed (one `error:` line, exit status 2): the wheelhouse; a
CUDA GPU that torch has kernels for; a C compiler and Python's headers (Triton compiles its
kernel launcher at the first launch); the prebuilt wheel's record; for a build here, an nvcc
of torch's CUDA major that knows the GPU's arch.

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
PREBUILT=0  # 1: the wheelhouse has a prebuilt mmcv wheel (installed in a, checked in c)
if [ -n "$WHEELHOUSE" ]; then
    [ -d "$WHEELHOUSE" ] || die "--wheelhouse $WHEELHOUSE is not a folder; prepare it as --help shows"
    WHEELHOUSE=$(cd "$WHEELHOUSE" && pwd)
    for pattern in "mmengine-0.10.7-*.whl" "mmdet-3.3.0-*.whl" "pycocotools-*.whl" \
        "setuptools-*.whl" "pytest-*.whl" "ninja-*.whl"; do
        need_wheel "$pattern"
    done
    if [ "$SKIP_BUILD" = 0 ] && compgen -G "$WHEELHOUSE/mmcv-2.1.0-*.whl" >/dev/null; then
        PREBUILT=1
    elif [ "$SKIP_BUILD" = 0 ]; then
        need_wheel "mmcv-2.1.0.tar.gz"
    fi
elif [ "$SKIP_BUILD" = 0 ]; then
    die "--wheelhouse DIR is required (mmcv comes from there); see --help"
elif ! "$PYTHON" -c "import mmengine, mmdet, pycocotools, pytest" 2>/dev/null; then
    die "--skip-build without --wheelhouse needs mmengine, mmdet, pycocotools and pytest importable by $PYTHON"
fi
command -v "$PYTHON" >/dev/null || die "--python $PYTHON: no such interpreter"
# Triton compiles its kernel launcher (C, against Python.h) at the first launch.
command -v "${CC:-cc}" >/dev/null || command -v gcc >/dev/null || command -v clang >/dev/null \
    || die "no C compiler (${CC:-cc}, gcc or clang): Triton compiles its kernel launcher with one at the first launch; install gcc"
"$PYTHON" -c 'import os, sys, sysconfig; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' 2>/dev/null \
    || die "no Python.h for $PYTHON: Triton's kernel launcher is compiled against Python's headers; install them (e.g. apt-get install python3-dev)"
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
print(f"{major}.{minor} {torch.version.cuda}")
PY
) || die "$(echo "$GPU_INFO" | tail -1)"
read -r ARCH TORCH_CUDA <<<"$(echo "$GPU_INFO" | tail -1)"  # the last line; warnings may come before it
# shellcheck source=tools/cuda_home.sh
source tools/cuda_home.sh
if [ "$PREBUILT" = 1 ]; then
    MMCV_WHEEL=$("$PYTHON" tools/mmcv_wheel.py check "$WHEELHOUSE" --arch "$ARCH") || exit 2
elif [ "$SKIP_BUILD" = 0 ]; then
    NVCC=$(system_nvcc) || die "the wheelhouse has no prebuilt mmcv wheel and there is no nvcc to build one (not on PATH, not in ${CUDA_HOME:-/usr/local/cuda}/bin); make the wheel with tools/make_gpu_wheelhouse.sh (see --help)"
    nvcc_matches "$NVCC" "$TORCH_CUDA" \
        || die "$NVCC is CUDA $(nvcc_release "$NVCC"), torch's is CUDA $TORCH_CUDA (torch refuses to build with another major); make the mmcv wheel with tools/make_gpu_wheelhouse.sh"
    check_cuda_archs "$NVCC" "$ARCH" || exit 2
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

# a: mmengine & co. (and a prebuilt mmcv) into a venv over the system's torch; a venv of an
# unfinished run goes.
install_runtime() {
    rm -rf "$VENV"
    "$PYTHON" -m venv --system-site-packages "$VENV" || return 1
    "$VENV/bin/python" -m pip install -q --no-index --find-links "$WHEELHOUSE" --no-cache-dir \
        --disable-pip-version-check "setuptools>=77,<81" mmengine==0.10.7 mmdet==3.3.0 \
        "pycocotools>=2.0.8" pytest ninja ${MMCV_WHEEL:+"$MMCV_WHEEL"} \
        && "$VENV/bin/python" -c "import mmengine, pycocotools, pytest" \
        && PATH="$VENV/bin:$PATH" ninja --version >/dev/null
}
export -f install_runtime
export PYTHON VENV WHEELHOUSE RESULTS ARCH MMCV_WHEEL=${MMCV_WHEEL:-}
if [ -n "$WHEELHOUSE" ]; then
    what="mmengine, mmdet, pycocotools, pytest, ninja${MMCV_WHEEL:+, prebuilt mmcv} from the wheelhouse"
    if phase a "$what" "$(cap 120 360)" install_runtime; then
        PY=$VENV/bin/python
    else
        rm -rf "$VENV"
        echo "error: installing from --wheelhouse $WHEELHOUSE failed (see $RESULTS/a.log); nothing was left installed" >&2
        exit 1
    fi
fi
# pip's build subprocess finds ninja only on PATH, so the venv's bin/ goes first.
export PY PATH="$VENV/bin:$PATH" PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}" \
    OMP_NUM_THREADS=${OMP_NUM_THREADS:-8}

# c, started now: without a prebuilt wheel, mmcv builds in the background while b runs,
# niced, on all cores but 2 (left to the GPU phases); c waits for it.
BUILD_PID="" BUILD_DIR=""
stop_build() {
    [ -z "$BUILD_PID" ] || kill -- "-$BUILD_PID" 2>/dev/null
    [ -z "$BUILD_DIR" ] || rm -rf "$BUILD_DIR"
}
trap stop_build EXIT
build_wheel() {  # build_wheel DIR: mmcv's wheel from the wheelhouse sdist into DIR
    local cores
    cores=$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc)  # nproc alone: OMP_NUM_THREADS
    MMCV_WITH_OPS=1 FORCE_CUDA=1 TORCH_CUDA_ARCH_LIST=${TORCH_CUDA_ARCH_LIST:-$ARCH} \
        MAX_JOBS=${MAX_JOBS:-$((cores > 3 ? cores - 2 : 1))} \
        CFLAGS="${CFLAGS:-$("$PY" -c 'import sysconfig; print(sysconfig.get_config_var("CFLAGS") or "")')} -g0" \
        nice -n 10 "$PY" -m pip wheel -q --no-deps --no-build-isolation --no-index --no-cache-dir \
        -w "$1" "$WHEELHOUSE/mmcv-2.1.0.tar.gz"
}
export -f build_wheel
BUILDING=""
if [ "$SKIP_BUILD" = 0 ] && [ "$PREBUILT" = 0 ]; then
    BUILD_DIR=$(mktemp -d)
    # setsid: the build gets its own process group, so stop_build ends all its compilers.
    setsid bash -c 'build_wheel "$1"; echo $? >"$1/rc"' build "$BUILD_DIR" \
        >"$RESULTS/mmcv_build.log" 2>&1 &
    BUILD_PID=$!
    BUILDING="; mmcv building in the background"
    echo "[gpu_check] mmcv build started in the background (log: $RESULTS/mmcv_build.log)"
fi

# b: the kernels, before mmcv exists.
kernel_tests() {
    MMDET_EVONORM_KERNELS_ONLY=1 "$PY" -m pytest -q -p no:cacheprovider -m gpu \
        tests/test_models/test_layers/test_evonorm_triton.py
}
export -f kernel_tests
phase b "EvoNorm-S0 Triton kernel tests (CUDA$BUILDING)" "$(cap 150 330)" kernel_tests
pytest_section "$RESULTS/b.log" "EvoNorm-S0 kernel tests (phase b)" >"$RESULTS/b_tests.md"
norm_bench() {
    MMDET_EVONORM_KERNELS_ONLY=1 "$PY" tools/benchmark_norm.py --device cuda --out "$RESULTS/norm.md"
}
export -f norm_bench
phase b2 "EvoNorm-S0 benchmark (tools/benchmark_norm.py --device cuda$BUILDING)" "$(cap 120 300)" norm_bench

# c: mmcv with CUDA ops; a wheel built here is installed only when built, and kept (like a
# prebuilt one) only when it works.
finish_build() {  # wait for the background build, then install its wheel
    while [ ! -e "$BUILD_DIR/rc" ]; do sleep 5; done
    tail -5 "$RESULTS/mmcv_build.log"
    [ "$(cat "$BUILD_DIR/rc")" = 0 ] || return 1
    "$PY" -m pip install -q --no-index --no-deps --force-reinstall "$BUILD_DIR"/mmcv-2.1.0-*.whl
}
check_mmcv() {
    "$PY" tools/check_mmcv_ops.py --cuda && return 0
    [ "$SKIP_BUILD" = 1 ] || "$PY" -m pip uninstall -q -y mmcv
    return 1
}
export -f finish_build check_mmcv
export BUILD_DIR SKIP_BUILD
if [ "$SKIP_BUILD" = 1 ]; then
    phase c "mmcv CUDA ops already installed (--skip-build): check" 60 check_mmcv
elif [ "$PREBUILT" = 1 ]; then
    phase c "mmcv prebuilt wheel $(basename "$MMCV_WHEEL"): check" 60 check_mmcv
else
    phase c "mmcv 2.1.0 build (background since b), CUDA ops for sm_${ARCH/./}" "$(cap 400 150)" \
        bash -c 'finish_build && check_mmcv'
fi
MMCV_OK=$?
stop_build
BUILD_PID="" BUILD_DIR=""
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
# The targets, read back from the JSON beside benchmark_rows' report (GPU time on a GPU).
[ -s "$RESULTS/rows.json" ] && "$PY" - "$RESULTS/rows.json" >"$RESULTS/targets.md" 2>&1 <<'PY' || STATUS=1
import json, sys
targets = json.load(open(sys.argv[1]))["targets"]
print("## Targets (one GPU, AMP, batch 8 of 800x1333)\n")
print("| target | measured | met |\n|---|---:|---|")
for t in targets:
    print(f"| {t['target']} | {t['measured']} | {'yes' if t['met'] else '**no**'} |")
PY

# f: the report.
render_doc
echo "[gpu_check] done in $(($(date +%s) - START)) s; report: $DOC"
[ -s "$RESULTS/targets.md" ] && sed 's/^/    /' "$RESULTS/targets.md"
exit $STATUS
