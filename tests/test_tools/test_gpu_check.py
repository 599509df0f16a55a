"""tools/gpu_check.sh and the CUDA path of tools/setup_env.sh on a CPU machine: the
documentation and the bad-input paths (one ``error:`` line, exit status 2, nothing
created). The GPU phases themselves need a CUDA machine (docs/benchmarks_gpu.md)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from mmdet_evonorm.testing import single_error_line

REPO = Path(__file__).resolve().parents[2]
WHEELS = (
    "mmengine-0.10.7-py3-none-any.whl",
    "mmdet-3.3.0-py3-none-any.whl",
    "pycocotools-2.0.11-cp312-abi3-manylinux_2_17_x86_64.whl",
    "setuptools-80.10.2-py3-none-any.whl",
    "mmcv-2.1.0.tar.gz",
)


def gpu_check(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    outputs = ("--results", tmp_path / "results", "--doc", tmp_path / "doc.md")
    return subprocess.run(
        ["bash", "tools/gpu_check.sh", *map(str, (*args, "--venv", tmp_path / "venv", *outputs))],
        cwd=REPO,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def wheelhouse(tmp_path: Path, leave_out: str | None = None) -> Path:
    folder = tmp_path / "wheelhouse"
    folder.mkdir()
    for name in WHEELS:
        if name != leave_out:
            (folder / name).touch()
    return folder


def assert_nothing_created(tmp_path: Path) -> None:
    for name in ("results", "doc.md", "venv"):
        assert not (tmp_path / name).exists(), name


def test_help_documents_the_wheelhouse(tmp_path):
    run = gpu_check(tmp_path, "--help")
    assert run.returncode == 0, run.stderr
    for part in (
        "pip download",
        "--platform manylinux2014_x86_64",
        "--python-version 3.12",
        "--only-binary=:all:",
        "mmengine==0.10.7 mmdet==3.3.0 'pycocotools>=2.0.8'",
        "--no-binary :all:",
        "mmcv==2.1.0",
        "--wheelhouse DIR",
        "--skip-build",
    ):
        assert part in run.stdout, part
    assert_nothing_created(tmp_path)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((), "--wheelhouse DIR is required"),
        (("--wheelhouse",), "--wheelhouse needs a value"),
        (("--wheelhouse", "/no/such/folder"), "--wheelhouse /no/such/folder is not a folder"),
        (("--frobnicate",), "unknown argument --frobnicate"),
    ],
)
def test_bad_arguments(tmp_path, args, expected):
    run = gpu_check(tmp_path, *args)
    assert run.returncode == 2
    assert expected in single_error_line(run.stderr)
    assert_nothing_created(tmp_path)


@pytest.mark.parametrize("missing", ["mmcv-2.1.0.tar.gz", "mmdet-3.3.0-*.whl"])
def test_wheelhouse_without_a_file(tmp_path, missing):
    leave_out = next(name for name in WHEELS if name.startswith(missing.split("-")[0]))
    run = gpu_check(tmp_path, "--wheelhouse", wheelhouse(tmp_path, leave_out))
    assert run.returncode == 2
    line = single_error_line(run.stderr)
    assert f"has no {missing}" in line and "--help" in line
    assert_nothing_created(tmp_path)


def test_skip_build_does_not_need_the_sdist(tmp_path):
    """--skip-build accepts a wheelhouse without mmcv's sdist (and then needs a GPU)."""
    folder = wheelhouse(tmp_path, "mmcv-2.1.0.tar.gz")
    run = gpu_check(tmp_path, "--wheelhouse", folder, "--skip-build", "--python", "no-such-py")
    assert run.returncode == 2
    assert "--python no-such-py: no such interpreter" in single_error_line(run.stderr)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the machine without CUDA")
def test_no_cuda_is_one_line(tmp_path):
    run = gpu_check(tmp_path, "--wheelhouse", wheelhouse(tmp_path), "--python", sys.executable)
    assert run.returncode == 2
    line = single_error_line(run.stderr)
    assert "sees no CUDA GPU" in line and torch.__version__ in line
    assert_nothing_created(tmp_path)


@pytest.mark.skipif(
    shutil.which("nvcc", path="/usr/bin:/bin") is not None, reason="nvcc in /usr/bin"
)
@pytest.mark.parametrize("ask", ["MMCV_CUDA", "FORCE_CUDA"])
def test_setup_env_asking_for_cuda_without_nvcc(tmp_path, ask):
    """One ERROR line, non-zero exit, before any venv is created or pip runs."""
    env = {
        **os.environ,
        ask: "1",
        "PATH": "/usr/bin:/bin",
        "CUDA_HOME": str(tmp_path / "no-cuda"),
        "VENV": str(tmp_path / "venv"),
    }
    run = subprocess.run(
        ["bash", "tools/setup_env.sh"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 1
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ERROR: CUDA ops asked for"), run.stderr
    assert "no nvcc" in lines[0]
    assert not (tmp_path / "venv").exists()
