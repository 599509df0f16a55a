#!/usr/bin/env bash
# A CUDA_HOME without a system CUDA toolkit: NVIDIA's nvcc wheels (nvidia-cuda-nvcc, -cccl,
# -crt, nvidia-nvvm, -cuda-runtime) at torch's CUDA version, linked into one folder laid out
# like /usr/local/cuda, which torch.utils.cpp_extension (and so mmcv's setup.py) builds with.
#
#   bash tools/cuda_home.sh [--toolkit VERSION] [--arch LIST] PYTHON OUT
#
# PYTHON's environment (a venv) receives the wheels; OUT becomes the CUDA_HOME (a folder of
# links into that environment). VERSION is a `cuda-toolkit` release (e.g. 13.0.2); by default
# the one PYTHON's torch was installed with (torch's own dependency), else torch.version.cuda.
# LIST is a TORCH_CUDA_ARCH_LIST ("8.0;9.0"), checked against what this nvcc can build.
# tools/setup_env.sh and tools/make_gpu_wheelhouse.sh source this file for its functions.
#
# Why the links: the wheels (CUDA 13 on) put bin/, include/, lib/ and nvvm/ in one folder
# (site-packages/nvidia/cu13), but ship only lib/libcudart.so.13, while torch links with
# `-L$CUDA_HOME/lib64 -lcudart`; OUT adds lib64/ with libcudart.so -> libcudart.so.13.
# torch refuses an nvcc whose CUDA major differs from its own (cpp_extension's
# _check_cuda_version), so the version always comes from torch.
#
# Errors: one `error: ...` line on stderr, status 2.

# The nvcc wheels a CUDA_HOME needs, as `cuda-toolkit` extras (its metadata pins each wheel).
CUDA_HOME_EXTRAS="nvcc,cccl,crt,nvvm,cudart"
CUDA_HOME_MARKER="ASSEMBLED_FROM_WHEELS"

cuda_home_error() { echo "error: $1" >&2; return 2; }

# nvcc_release NVCC: its CUDA release, e.g. "13.0".
nvcc_release() {
    "$1" --version 2>/dev/null | sed -n 's/.*release \([0-9][0-9]*\.[0-9][0-9]*\).*/\1/p'
}

# system_nvcc: the nvcc a plain build would use (PATH, then $CUDA_HOME/bin, /usr/local/cuda/bin).
system_nvcc() {
    local candidate
    for candidate in "$(command -v nvcc)" "${CUDA_HOME:-/usr/local/cuda}/bin/nvcc"; do
        if [ -n "$candidate" ] && [ -x "$candidate" ]; then
            echo "$candidate"
            return 0
        fi
    done
    return 1
}

# nvcc_matches NVCC TORCH_CUDA: NVCC's CUDA major is torch's (else torch refuses to build).
nvcc_matches() {
    local release
    release=$(nvcc_release "$1")
    [ -n "$release" ] && [ "${release%%.*}" = "${2%%.*}" ]
}

# matching_system_nvcc TORCH_CUDA: the system nvcc if it matches torch's CUDA; a mismatched
# one is left alone, with one line saying so (on stderr).
matching_system_nvcc() {
    local nvcc
    nvcc=$(system_nvcc) || return 1
    nvcc_matches "$nvcc" "$1" && { echo "$nvcc"; return 0; }
    echo "[cuda_home] $nvcc is CUDA $(nvcc_release "$nvcc"), torch's is CUDA $1: left alone, not used" >&2
    return 1
}

# torch_toolkit_spec PYTHON: the pip version spec of the nvcc wheels for PYTHON's torch:
# "==13.0.2" (the cuda-toolkit release torch depends on) or "==13.0.*" (torch.version.cuda).
torch_toolkit_spec() {
    "$1" -W ignore - <<'PY'
import importlib.metadata as md
import sys

try:
    import torch
except ImportError as exc:
    sys.exit(f"error: {sys.executable} has no torch ({exc}); install torch first")
if torch.version.cuda is None:
    sys.exit(f"error: torch {torch.__version__} is a CPU build (no CUDA version to match nvcc "
             "to); install its CUDA build")
try:
    print(f"=={md.version('cuda-toolkit')}")
except md.PackageNotFoundError:
    print(f"=={torch.version.cuda}.*")
PY
}

# check_cuda_archs NVCC LIST: every arch of LIST ("8.0;9.0a;8.6+PTX") is one NVCC builds for.
check_cuda_archs() {
    local nvcc=$1 known arch code
    known=$("$nvcc" --list-gpu-code 2>/dev/null) || cuda_home_error "$nvcc --list-gpu-code failed" || return
    for arch in ${2//;/ }; do
        [[ $arch =~ ^([0-9]+)\.([0-9])[af]?(\+PTX)?$ ]] \
            || { cuda_home_error "arch '$arch' is no compute capability like 9.0 (TORCH_CUDA_ARCH_LIST, e.g. \"8.0;9.0\")"; return; }
        code="sm_${BASH_REMATCH[1]}${BASH_REMATCH[2]}"
        grep -qx "$code" <<<"$known" || {
            cuda_home_error "nvcc $(nvcc_release "$nvcc") ($nvcc) cannot build for arch $arch ($code); it knows: $(echo $known)"
            return
        }
    done
}

# assemble_cuda_home PYTHON OUT SPEC: install cuda-toolkit[...]SPEC into PYTHON's environment
# and link OUT into a CUDA_HOME. OUT is replaced only when an earlier assembly made it.
assemble_cuda_home() {
    local py=$1 out=$2 spec=$3 major log status reason top cudart
    major=${spec#==}
    major=${major%%.*}
    [[ $major =~ ^[0-9]+$ ]] || { cuda_home_error "toolkit version '${spec#==}' is no CUDA release like 13.0.2"; return; }
    [ "$major" -ge 13 ] || {
        cuda_home_error "CUDA ${spec#==}: NVIDIA's nvcc wheels form a toolkit folder only from CUDA 13 on; install the CUDA ${spec#==} toolkit (nvcc) instead"
        return
    }
    if [ -e "$out" ] && [ ! -e "$out/$CUDA_HOME_MARKER" ] && [ -n "$(ls -A "$out")" ]; then
        cuda_home_error "$out exists and is no assembled CUDA_HOME; choose another folder (nothing was changed)"
        return
    fi
    log=$(mktemp)
    "$py" -m pip install --disable-pip-version-check "cuda-toolkit[$CUDA_HOME_EXTRAS]$spec" >"$log" 2>&1
    status=$?
    reason=$(grep -m1 '^ERROR' "$log")
    rm -f "$log"
    [ $status -eq 0 ] || {
        cuda_home_error "pip could not install NVIDIA's nvcc wheels cuda-toolkit[$CUDA_HOME_EXTRAS]$spec (no such release, or no network): $reason"
        return
    }
    # The folder the wheels put bin/nvcc in, from pip's record of nvidia-cuda-nvcc's files.
    top=$("$py" -c 'import importlib.metadata as md, pathlib
nvcc = next(f for f in md.files("nvidia-cuda-nvcc") if f.name == "nvcc" and f.parent.name == "bin")
print(pathlib.Path(nvcc.locate()).resolve().parents[1])') || { cuda_home_error "pip installed no nvidia-cuda-nvcc into $py's environment"; return; }
    cudart=$(cd "$top/lib" 2>/dev/null && ls libcudart.so.* 2>/dev/null | head -1)
    [ -x "$top/bin/nvcc" ] && [ -d "$top/nvvm" ] && [ -f "$top/include/cuda_runtime.h" ] && [ -n "$cudart" ] || {
        cuda_home_error "the nvcc wheels in $top lack bin/nvcc, nvvm/, include/cuda_runtime.h or lib/libcudart.so.*"
        return
    }
    rm -rf "$out"
    mkdir -p "$out/lib64"
    ln -s "$top/bin" "$out/bin"
    ln -s "$top/include" "$out/include"
    ln -s "$top/nvvm" "$out/nvvm"
    ln -s "$top"/lib/* "$out/lib64/"
    ln -s "$cudart" "$out/lib64/libcudart.so"
    ln -s lib64 "$out/lib"
    echo "cuda-toolkit[$CUDA_HOME_EXTRAS]$spec, installed into $("$py" -c 'import sys; print(sys.prefix)')" \
        >"$out/$CUDA_HOME_MARKER"
    nvcc_matches "$out/bin/nvcc" "$major" \
        || { cuda_home_error "$out/bin/nvcc reports CUDA '$(nvcc_release "$out/bin/nvcc")', not $major.x"; return; }
    echo "[cuda_home] $out: nvcc $("$out/bin/nvcc" --version | sed -n 's/.*, V//p') from NVIDIA's wheels (cuda-toolkit$spec)"
}

cuda_home_main() {
    local toolkit="" arch="" spec
    while [ $# -gt 2 ]; do
        case "$1" in
            --toolkit) toolkit=$2 ;;
            --arch) arch=$2 ;;
            *) cuda_home_error "unknown argument $1 (usage: bash tools/cuda_home.sh [--toolkit VERSION] [--arch LIST] PYTHON OUT)"; return ;;
        esac
        shift 2
    done
    [ $# -eq 2 ] || { cuda_home_error "usage: bash tools/cuda_home.sh [--toolkit VERSION] [--arch LIST] PYTHON OUT"; return; }
    command -v "$1" >/dev/null || { cuda_home_error "PYTHON $1: no such interpreter"; return; }
    if [ -n "$toolkit" ]; then
        spec="==$toolkit"
    else
        spec=$(torch_toolkit_spec "$1") || return 2
    fi
    assemble_cuda_home "$1" "$2" "$spec" || return
    [ -z "$arch" ] || check_cuda_archs "$2/bin/nvcc" "$arch"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    set -uo pipefail
    cuda_home_main "$@"
    exit $?
fi
