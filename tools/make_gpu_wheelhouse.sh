#!/usr/bin/env bash
# A wheelhouse for tools/gpu_check.sh, made on any x86-64 Linux machine (no GPU needed).
# `bash tools/make_gpu_wheelhouse.sh --help` says what it makes and how.
set -uo pipefail
TOOLS=$(cd "$(dirname "$0")" && pwd)

usage() {
    cat <<'EOF'
Usage: bash tools/make_gpu_wheelhouse.sh --out DIR [--python 3.12|PATH] [--torch 2.11.0]
                                          [--arch 9.0] [--jobs N] [--mmcv-wheel WHL | --dry-run]

Makes DIR, a wheelhouse for `bash tools/gpu_check.sh --wheelhouse DIR` on a GPU machine
without internet, for one Python, one torch release and the GPUs' arch. On any x86-64 Linux
machine with internet; no GPU and no CUDA toolkit needed. DIR holds:

  - the runtime wheels for that Python (manylinux x86-64): mmengine 0.10.7, mmdet 3.3.0,
    pycocotools, setuptools<81, ninja, pytest, and everything they and mmcv need (the GPU
    machine installs only what it lacks);
  - mmcv-2.1.0.tar.gz, mmcv's source (not with --mmcv-wheel; gpu_check builds it when DIR
    has no mmcv wheel);
  - mmcv-2.1.0-cpXY-cpXY-linux_x86_64.whl, mmcv with CUDA ops cross-compiled for --arch,
    and mmcv-build.json (its Python, torch release, CUDA major, GPU code, sha256, how it was
    built), which gpu_check compares with the GPU machine before installing the wheel;
  - mmcv-build.log, the compiler's output.

How the mmcv wheel is built: a throwaway venv of that Python gets torch==--torch from PyPI
(with its CUDA libraries: several GB) and numpy, NVIDIA's nvcc wheels at that torch's CUDA version
(tools/cuda_home.sh: cuda-toolkit[nvcc,cccl,crt,nvvm,cudart], linked into a CUDA_HOME),
setuptools<81, wheel and ninja; then, with that venv's bin/ first on PATH,
  FORCE_CUDA=1 MMCV_WITH_OPS=1 TORCH_CUDA_ARCH_LIST=<--arch> MAX_JOBS=<--jobs> \
  CFLAGS="<Python's CFLAGS> -g0" pip wheel --no-deps --no-build-isolation mmcv-2.1.0.tar.gz
Measured for sm_90 alone (torch 2.11.0+cu130, nvcc 13.0.88 wheels, 136 files): about 46 min
on one core of a 2-core x86-64 VM; expect it to shrink with --jobs on more cores.

Options:
  --out DIR         the wheelhouse to make; it must not exist (it appears only when complete)
  --python V|PATH   target Python: a version (3.12, default; runs pythonV from PATH) or an
                    interpreter's path (e.g. ~/.pyenv/versions/3.12.1/bin/python3.12)
  --torch VERSION   the GPU machine's torch release, PyPI's default Linux build (default
                    2.11.0, a CUDA 13.0 build)
  --arch LIST       TORCH_CUDA_ARCH_LIST of the GPUs (default 9.0: H100/H200; "8.0;9.0" ...)
  --jobs N          parallel compile jobs (default: this machine's cores)
  --mmcv-wheel WHL  take this prebuilt mmcv wheel instead of building one: its tags must be
                    --python's, it must hold CUDA code for every --arch; the --torch release
                    it was built against is taken as given. No venv, no compiler needed.
  --dry-run         everything but the mmcv compile: the venv, the CUDA_HOME, the checks,
                    the runtime wheels and the sdist; prints the build command. DIR then has
                    no mmcv wheel, so gpu_check builds mmcv on the GPU machine.

Refused at once, one `error:` line, exit status 2, nothing left behind: DIR exists; not
x86-64 Linux; no C/C++ compiler (cc, c++ or $CC/$CXX) or no Python.h for the target Python
(when building); an --arch nvcc cannot build for; a torch whose CUDA version has no nvcc
wheels (NVIDIA's wheels form a toolkit from CUDA 13 on); a --mmcv-wheel for another Python
or arch or without CUDA ops. A failed download or build: exit status 1, nothing left behind.
EOF
}

die() { echo "error: $1" >&2; exit "${2:-2}"; }
step() { echo "[wheelhouse] $*"; }
elapsed() { echo "$(($(date +%s) - $1)) s"; }

# -- arguments ------------------------------------------------------------------
CORES=$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc)  # nproc alone would count OMP_NUM_THREADS
OUT="" PYTHON_ARG=3.12 TORCH=2.11.0 ARCH=9.0 JOBS=$CORES MMCV_WHEEL="" DRY_RUN=0
while [ $# -gt 0 ]; do
    case "$1" in
        -h | --help) usage; exit 0 ;;
        --dry-run) DRY_RUN=1 ;;
        --out | --python | --torch | --arch | --jobs | --mmcv-wheel)
            [ $# -ge 2 ] && [ "${2#--}" = "$2" ] || die "$1 needs a value (see --help)"
            case "$1" in
                --out) OUT=$2 ;;
                --python) PYTHON_ARG=$2 ;;
                --torch) TORCH=$2 ;;
                --arch) ARCH=$2 ;;
                --jobs) JOBS=$2 ;;
                --mmcv-wheel) MMCV_WHEEL=$2 ;;
            esac
            shift ;;
        *) die "unknown argument $1 (see --help)" ;;
    esac
    shift
done

# -- bad input: checked before anything is made -----------------------------------
[ -n "$OUT" ] || die "--out DIR is required (see --help)"
[ ! -e "$OUT" ] || die "--out $OUT exists; name a new folder (nothing is overwritten)"
[ -d "$(dirname "$OUT")" ] || die "--out $OUT: no folder $(dirname "$OUT")"
[ "$(uname -s) $(uname -m)" = "Linux x86_64" ] \
    || die "this makes Linux x86-64 wheels and runs there only (this is $(uname -s) $(uname -m))"
[[ $TORCH =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "--torch $TORCH: give a release like 2.11.0"
[[ $JOBS =~ ^[1-9][0-9]*$ ]] || die "--jobs $JOBS: give a number of jobs like 4"
[ -z "$MMCV_WHEEL" ] || [ "$DRY_RUN" = 0 ] || die "--mmcv-wheel and --dry-run exclude each other"
for arch in ${ARCH//;/ }; do
    [[ $arch =~ ^[0-9]+\.[0-9][af]?(\+PTX)?$ ]] \
        || die "--arch $ARCH: '$arch' is no compute capability like 9.0 (list: \"8.0;9.0\")"
done
HOST_PY=$(command -v python3) || die "no python3 on PATH (pip downloads the wheels with it)"
BUILD=0
[ -n "$MMCV_WHEEL" ] || BUILD=1
if [ "$BUILD" = 1 ]; then
    for compiler in "${CC:-cc}" "${CXX:-c++}"; do
        command -v "$compiler" >/dev/null \
            || die "no C/C++ compiler '$compiler' on PATH (mmcv's ops are C++ and CUDA): install gcc and g++ (e.g. apt-get install build-essential) or set CC/CXX"
    done
    if [[ $PYTHON_ARG == */* ]]; then TARGET_PY=$PYTHON_ARG; else TARGET_PY=python$PYTHON_ARG; fi
    PYTHON_VERSION=$("$TARGET_PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null) \
        || die "--python $PYTHON_ARG: cannot run $TARGET_PY; put python$PYTHON_ARG on PATH (pyenv, uv python install, apt) or pass the interpreter's path"
    [[ $PYTHON_ARG == */* ]] || [ "$PYTHON_VERSION" = "$PYTHON_ARG" ] \
        || die "--python $PYTHON_ARG: $TARGET_PY is Python $PYTHON_VERSION"
    "$TARGET_PY" -c 'import os, sys, sysconfig; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' \
        || die "--python $PYTHON_ARG: no Python.h for $TARGET_PY; install its headers (e.g. apt-get install python$PYTHON_VERSION-dev)"
else
    [[ $PYTHON_ARG =~ ^3\.[0-9]+$ ]] || die "--python $PYTHON_ARG: with --mmcv-wheel give a version like 3.12"
    PYTHON_VERSION=$PYTHON_ARG
    [ -f "$MMCV_WHEEL" ] || die "--mmcv-wheel $MMCV_WHEEL: no such file"
fi
PYTAG=cp${PYTHON_VERSION/./}

# -- the work: in a staging folder beside DIR and a throwaway folder ---------------
START=$(date +%s)
STAGE=$(mktemp -d "$(dirname "$OUT")/.$(basename "$OUT").partial.XXXXXX") || die "cannot write beside $OUT" 1
WORK=$(mktemp -d) || die "cannot make a temporary folder" 1
trap 'rm -rf "$STAGE" "$WORK"' EXIT
LOG=$WORK/pip.log
fail() {  # fail MESSAGE: a failed download or build (exit 1), pip's first ERROR line appended
    die "$1${2:+ ($(grep -m1 '^ERROR' "$2" || tail -1 "$2"))}" 1
}

# The wheels for the target Python, whatever the interpreter pip runs on.
TARGET=(--only-binary=:all: --python-version "$PYTHON_VERSION" --implementation cp --abi "$PYTAG"
        --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64
        --platform manylinux_2_28_x86_64)
RUNTIME=(mmengine==0.10.7 mmdet==3.3.0 "pycocotools>=2.0.8" "setuptools>=77,<81" ninja "pytest>=8")

if [ "$BUILD" = 0 ]; then
    step "mmcv: $MMCV_WHEEL (given; checked, not built)"
    "$HOST_PY" "$TOOLS/mmcv_wheel.py" record "$MMCV_WHEEL" \
        --python "$PYTHON_VERSION" --torch "$TORCH" --arch "$ARCH" --out "$STAGE/mmcv-build.json" \
        --built-by "given with --mmcv-wheel; built against torch $TORCH as stated, not verified" \
        || exit 2
    cp "$MMCV_WHEEL" "$STAGE/" || fail "cannot copy $MMCV_WHEEL"
else
    t0=$(date +%s)
    VENV=$WORK/venv
    VPY=$VENV/bin/python
    step "throwaway venv: Python $PYTHON_VERSION, torch==$TORCH with its CUDA libraries (several GB)"
    "$TARGET_PY" -m venv "$VENV" || fail "$TARGET_PY -m venv failed"
    "$VPY" -m pip install -q --disable-pip-version-check "torch==$TORCH" "setuptools>=77,<81" \
        wheel ninja numpy >"$LOG" 2>&1 || fail "pip could not install torch==$TORCH for Python $PYTHON_VERSION" "$LOG"
    TORCH_BUILT=$("$VPY" -W ignore -c 'import torch; print(torch.__version__)') || fail "torch==$TORCH does not import"
    step "    torch $TORCH_BUILT ($(elapsed "$t0"))"
    # shellcheck source=tools/cuda_home.sh
    source "$TOOLS/cuda_home.sh"
    SPEC=$(torch_toolkit_spec "$VPY") || exit 2
    assemble_cuda_home "$VPY" "$VENV/cuda" "$SPEC" || exit 2
    check_cuda_archs "$VENV/cuda/bin/nvcc" "$ARCH" || exit 2
    NVCC_VERSION=$("$VENV/cuda/bin/nvcc" --version | sed -n 's/.*, V//p')
    step "mmcv-2.1.0.tar.gz"
    "$VPY" -m pip download -q --disable-pip-version-check --no-deps --no-binary :all: \
        --no-build-isolation -d "$STAGE" mmcv==2.1.0 >"$LOG" 2>&1 || fail "cannot download mmcv's sdist" "$LOG"
fi

t0=$(date +%s)
step "runtime wheels for Python $PYTHON_VERSION: ${RUNTIME[*]} and their dependencies"
"$HOST_PY" -m pip download -q --disable-pip-version-check -d "$STAGE" "${TARGET[@]}" "${RUNTIME[@]}" \
    >"$LOG" 2>&1 || fail "pip could not download the runtime wheels" "$LOG"
step "    $(ls "$STAGE"/*.whl | wc -l) wheels, $(du -sh "$STAGE" | cut -f1) ($(elapsed "$t0"))"

if [ "$BUILD" = 1 ]; then
    BUILD_CMD=(env MMCV_WITH_OPS=1 FORCE_CUDA=1 "TORCH_CUDA_ARCH_LIST=$ARCH" "MAX_JOBS=$JOBS"
        "CFLAGS=$("$VPY" -c 'import sysconfig; print(sysconfig.get_config_var("CFLAGS") or "")') -g0"
        "CUDA_HOME=$VENV/cuda" "PATH=$VENV/bin:$VENV/cuda/bin:$PATH"
        "$VPY" -m pip wheel -v --no-deps --no-build-isolation --no-index --no-cache-dir
        -w "$WORK/wheel" "$STAGE/mmcv-2.1.0.tar.gz")
    if [ "$DRY_RUN" = 1 ]; then
        step "--dry-run: mmcv is not compiled; the build would run:"
        echo "   $(printf ' %q' "${BUILD_CMD[@]}")"
    else
        # pip's build subprocess finds ninja (and nvcc) only on PATH: the venv's bin/ goes first.
        PATH="$VENV/bin:$PATH" command -v ninja >/dev/null || die "no ninja in $VENV/bin (pip installed none)" 1
        t0=$(date +%s)
        step "mmcv 2.1.0 with CUDA ops for $ARCH: nvcc $NVCC_VERSION, $JOBS jobs (log: $STAGE/mmcv-build.log)"
        "${BUILD_CMD[@]}" >"$STAGE/mmcv-build.log" 2>&1 || fail "mmcv's build failed: $(tail -1 "$STAGE/mmcv-build.log")"
        BUILD_S=$(($(date +%s) - t0))
        cp "$WORK"/wheel/mmcv-2.1.0-*.whl "$STAGE/" || fail "the build made no mmcv wheel"
        CPU=$(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)
        "$VPY" "$TOOLS/mmcv_wheel.py" record "$STAGE"/mmcv-2.1.0-*.whl --python "$PYTHON_VERSION" \
            --torch "$TORCH_BUILT" --arch "$ARCH" --out "$STAGE/mmcv-build.json" \
            --built-by "tools/make_gpu_wheelhouse.sh: nvcc $NVCC_VERSION (NVIDIA's wheels), MAX_JOBS=$JOBS, ${BUILD_S} s on $CORES x $CPU" \
            || exit 2
        step "    built in ${BUILD_S} s"
    fi
fi

# Complete offline? pip resolves everything from the wheelhouse alone, as gpu_check will.
WANT=("${RUNTIME[@]}")
compgen -G "$STAGE/mmcv-2.1.0-*.whl" >/dev/null && WANT+=("$(ls "$STAGE"/mmcv-2.1.0-*.whl)")
"$HOST_PY" -m pip download -q --disable-pip-version-check --no-index --find-links "$STAGE" \
    -d "$STAGE" "${TARGET[@]}" --platform linux_x86_64 "${WANT[@]}" >"$LOG" 2>&1 \
    || fail "the wheelhouse does not resolve offline" "$LOG"
chmod 755 "$STAGE" && mv "$STAGE" "$OUT" || fail "cannot move the wheelhouse to $OUT"
STAGE=""
step "done in $(elapsed "$START"): $OUT, $(ls "$OUT"/*.whl | wc -l) wheels, $(du -sh "$OUT" | cut -f1)"
