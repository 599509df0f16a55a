"""tools/cuda_home.sh: a CUDA_HOME from NVIDIA's nvcc wheels, on a CPU machine.

The wheels are those of torch 2.11.0's CUDA 13.0 build (PyPI's default Linux wheel, the GPU
machine's torch), which depends on ``cuda-toolkit==13.0.2``: that release names
nvidia-cuda-nvcc 13.0.88, -cccl 13.0.85, -crt 13.0.88, nvidia-nvvm 13.0.88 and
nvidia-cuda-runtime 13.0.96 (about 105 MB, downloaded once into a cache in the temporary
folder). The local torch may be a CPU build, so the version is given with --toolkit. The
tests skip when the wheels cannot be downloaded (no network) or there is no C++ compiler.

With them, one small CUDA extension file (torch's ATen headers, which mmcv's CUDA sources
include too, and a kernel launched from an ATen function) compiles for sm_90 and links
against the CUDA_HOME's libcudart: about 18 s of CPU, 36 s of wall time on a loaded 2-core
VM.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import torch
from helpers import import_standalone_tool, single_error_line

REPO = Path(__file__).resolve().parents[2]
TOOLKIT = "13.0.2"
WHEELS = f"cuda-toolkit[nvcc,cccl,crt,nvvm,cudart]=={TOOLKIT}"
CACHE = Path(tempfile.gettempdir()) / f"mmdet_evonorm_nvcc_wheels_{TOOLKIT}"

EXTENSION = r"""
#include <ATen/ATen.h>

__global__ void scale_kernel(const float* x, float* y, float a, int64_t n) {
  int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
  if (i < n) y[i] = a * x[i];
}

at::Tensor scale(const at::Tensor& x, double a) {
  auto y = at::empty_like(x);
  int64_t n = x.numel();
  scale_kernel<<<(n + 255) / 256, 256>>>(x.data_ptr<float>(), y.data_ptr<float>(),
                                          static_cast<float>(a), n);
  return y;
}
"""


def cuda_home_sh(*args, env: dict | None = None, script: str | None = None):
    command = ["bash", "tools/cuda_home.sh", *map(str, args)]
    if script is not None:
        command = ["bash", "-c", f"source tools/cuda_home.sh && {script}"]
    return subprocess.run(
        command,
        cwd=REPO,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=600,
    )


def download(*options: str) -> bool:
    pip = [sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check"]
    run = subprocess.run(
        [*pip, *options, "-d", str(CACHE), WHEELS], capture_output=True, text=True, timeout=900
    )
    return run.returncode == 0


@pytest.fixture(scope="module")
def wheels() -> Path:
    """The cache folder holding the nvcc wheels (offline first, then from the index)."""
    if platform.system() != "Linux" or platform.machine() != "x86_64":
        pytest.skip("the cached nvcc wheels are Linux x86-64 ones")
    offline = ("--no-index", "--find-links", str(CACHE))
    if not download(*offline) and not download("--timeout", "30", "--retries", "1"):
        pytest.skip(f"cannot download {WHEELS} (no network?)")
    return CACHE


@pytest.fixture(scope="module")
def bare_venv(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True, timeout=300)
    return folder / "bin" / "python"


@pytest.fixture(scope="module")
def cuda_home(wheels, bare_venv, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cuda") / "cuda"
    offline = {"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(wheels)}
    run = cuda_home_sh("--toolkit", TOOLKIT, "--arch", "9.0", bare_venv, out, env=offline)
    assert run.returncode == 0, run.stderr
    assert "nvcc 13.0.88 from NVIDIA's wheels" in run.stdout
    return out


def test_layout_is_a_cuda_home(cuda_home):
    version = subprocess.run([cuda_home / "bin/nvcc", "--version"], capture_output=True, text=True)
    assert "release 13.0, V13.0.88" in version.stdout
    assert (cuda_home / "include/cuda_runtime.h").is_file()
    assert (cuda_home / "include/cccl/cub/cub.cuh").is_file()  # nvcc.profile adds include/cccl
    assert (cuda_home / "nvvm/libdevice").is_dir()
    # torch links `-L$CUDA_HOME/lib64 -lcudart`; the wheels ship only libcudart.so.13.
    assert os.readlink(cuda_home / "lib64/libcudart.so") == "libcudart.so.13"
    assert (cuda_home / "lib64/libcudart.so").resolve().is_file()
    assert (cuda_home / "lib").resolve() == (cuda_home / "lib64").resolve()


@pytest.mark.skipif(shutil.which("c++") is None, reason="no C++ compiler (nvcc's host compiler)")
def test_compiles_a_torch_cuda_extension_file_for_sm_90(cuda_home, tmp_path):
    from torch.utils.cpp_extension import include_paths

    source = tmp_path / "scale.cu"
    source.write_text(EXTENSION)
    includes = [f"-I{path}" for path in include_paths()]
    compile_ = [
        str(cuda_home / "bin/nvcc"),
        *includes,
        "-gencode=arch=compute_90,code=sm_90",
        "-std=c++17",
        "--expt-relaxed-constexpr",
        "-Xcompiler",
        "-fPIC",
        "-w",
        "-c",
        str(source),
        "-o",
        str(tmp_path / "scale.o"),
    ]
    run = subprocess.run(compile_, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    link = ["c++", "-shared", str(tmp_path / "scale.o"), f"-L{cuda_home}/lib64", "-lcudart"]
    run = subprocess.run([*link, "-o", str(tmp_path / "scale.so")], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-3000:]
    mmcv_wheel = import_standalone_tool("mmcv_wheel")
    assert mmcv_wheel.cuda_code((tmp_path / "scale.so").read_bytes()) == (13, ["sm_90"])


def test_arch_nvcc_does_not_know(cuda_home, bare_venv, wheels):
    offline = {"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(wheels)}
    run = cuda_home_sh("--toolkit", TOOLKIT, "--arch", "8.0;7.0", bare_venv, cuda_home, env=offline)
    assert run.returncode == 2
    line = single_error_line(run.stderr)
    assert "cannot build for arch 7.0 (sm_70)" in line and "sm_90" in line


def test_toolkit_without_nvcc_wheels(bare_venv, tmp_path):
    """No such cuda-toolkit release (offline: nothing to find) is one line; OUT is not made."""
    run = cuda_home_sh(
        "--toolkit", "13.0.77", bare_venv, tmp_path / "cuda", env={"PIP_NO_INDEX": "1"}
    )
    assert run.returncode == 2
    assert "could not install NVIDIA's nvcc wheels" in single_error_line(run.stderr)
    assert not (tmp_path / "cuda").exists()


def test_cuda_12_is_refused_before_pip(tmp_path):
    run = cuda_home_sh("--toolkit", "12.8.1", sys.executable, tmp_path / "cuda")
    assert run.returncode == 2
    line = single_error_line(run.stderr)
    assert "only from CUDA 13 on" in line and "install the CUDA 12.8.1 toolkit" in line
    assert not (tmp_path / "cuda").exists()


def test_foreign_folder_is_not_replaced(tmp_path):
    (tmp_path / "cuda").mkdir()
    (tmp_path / "cuda" / "keep.txt").write_text("mine")
    run = cuda_home_sh("--toolkit", TOOLKIT, sys.executable, tmp_path / "cuda")
    assert run.returncode == 2
    assert "is no assembled CUDA_HOME" in single_error_line(run.stderr)
    assert (tmp_path / "cuda" / "keep.txt").read_text() == "mine"


@pytest.mark.skipif(torch.version.cuda is not None, reason="checks a CPU build of torch")
def test_cpu_torch_has_no_cuda_version(tmp_path):
    run = cuda_home_sh(sys.executable, tmp_path / "cuda")
    assert run.returncode == 2
    assert "is a CPU build" in single_error_line(run.stderr)


def fake_nvcc(folder: Path, release: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    nvcc = folder / "nvcc"
    nvcc.write_text(f"#!/bin/sh\necho 'Cuda compilation tools, release {release}, V{release}.1'\n")
    nvcc.chmod(0o755)
    return nvcc


@pytest.mark.parametrize(("release", "used"), [("13.0", True), ("12.4", False)])
def test_system_nvcc_is_used_only_at_torchs_major(tmp_path, release, used):
    nvcc = fake_nvcc(tmp_path / "bin", release)
    env = {"PATH": f"{nvcc.parent}:/usr/bin:/bin", "CUDA_HOME": str(tmp_path / "none")}
    run = cuda_home_sh(env=env, script="matching_system_nvcc 13.0")
    assert (run.returncode == 0) == used
    if used:
        assert run.stdout.strip() == str(nvcc) and not run.stderr
    else:
        assert not run.stdout
        assert run.stderr.strip() == (
            f"[cuda_home] {nvcc} is CUDA 12.4, torch's is CUDA 13.0: left alone, not used"
        )
