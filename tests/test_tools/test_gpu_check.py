"""tools/gpu_check.sh and tools/setup_env.sh's build environment on a CPU machine: the
documentation and the bad-input paths (one ``error:`` line, exit status 2, nothing
created), and the PATH and ninja that mmcv's build sees. The GPU phases themselves need a
CUDA machine (docs/benchmarks_gpu.md); the prebuilt wheel's check is tested in
test_mmcv_wheel.py, the CUDA_HOME from NVIDIA's wheels in test_cuda_home.py."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from helpers import single_error_line

REPO = Path(__file__).resolve().parents[2]
WHEELS = (
    "mmengine-0.10.7-py3-none-any.whl",
    "mmdet-3.3.0-py3-none-any.whl",
    "pycocotools-2.0.11-cp312-abi3-manylinux_2_17_x86_64.whl",
    "setuptools-80.10.2-py3-none-any.whl",
    "pytest-9.2.0-py3-none-any.whl",
    "ninja-1.13.2-py3-none-manylinux2014_x86_64.manylinux_2_17_x86_64.whl",
    "mmcv-2.1.0.tar.gz",
)
# A stand-in for a venv's python: pip succeeds without doing anything (noting the PATH it
# had when asked for mmcv), every import fails.
FAKE_PYTHON = """#!/bin/bash
case " $* " in
    *" -m pip "*mmcv==2.1.0*) echo "$PATH" >"$(dirname "$0")/../mmcv_build_path" ;;&
    *" -m pip "*) exit 0 ;;
esac
exit 1
"""


def gpu_check(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    outputs = ("--results", tmp_path / "results", "--doc", tmp_path / "doc.md")
    return subprocess.run(
        [
            shutil.which("bash"),
            "tools/gpu_check.sh",
            *map(str, (*args, "--venv", tmp_path / "venv", *outputs)),
        ],
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
        "bash tools/make_gpu_wheelhouse.sh --out wheelhouse --python 3.12",
        "--torch 2.11.0 --arch 9.0",
        "no build on the GPU machine",
        "mmcv-2.1.0-*.whl + mmcv-build.json or mmcv-2.1.0.tar.gz",
        "pytest-*.whl, ninja-*.whl",
        "starts in the background as b starts",
        "a C compiler and Python's headers",
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


@pytest.mark.parametrize("missing", ["mmcv-2.1.0.tar.gz", "mmdet-3.3.0-*.whl", "ninja-*.whl"])
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


def tools_only(folder: Path, *names: str) -> str:
    """A PATH of just these commands (no compiler, no ninja, no nvcc)."""
    folder.mkdir()
    for name in names:
        (folder / name).symlink_to(shutil.which(name))
    return str(folder)


def test_no_c_compiler_is_one_line(tmp_path):
    """Triton compiles its launcher at the first launch: no cc, gcc or clang is bad input."""
    path = tools_only(tmp_path / "tools", "dirname")
    run = gpu_check(
        tmp_path, "--wheelhouse", wheelhouse(tmp_path), "--python", sys.executable, PATH=path
    )
    assert run.returncode == 2
    assert "no C compiler (cc, gcc or clang)" in single_error_line(run.stderr)
    assert_nothing_created(tmp_path)


def test_no_python_headers_is_one_line(tmp_path):
    python = tmp_path / "python"
    python.write_text(FAKE_PYTHON)
    python.chmod(0o755)
    run = gpu_check(tmp_path, "--wheelhouse", wheelhouse(tmp_path), "--python", python)
    assert run.returncode == 2
    line = single_error_line(run.stderr)
    assert f"no Python.h for {python}" in line and "Triton" in line
    assert_nothing_created(tmp_path)


def setup_env(tmp_path: Path, with_ninja: bool) -> subprocess.CompletedProcess:
    """tools/setup_env.sh over a stand-in venv (its pip does nothing) on a PATH of no tools."""
    bin_dir = tmp_path / "venv" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "python").write_text(FAKE_PYTHON)
    if with_ninja:
        (bin_dir / "ninja").write_text("#!/bin/sh\necho 1.13.2\n")
    for tool in bin_dir.iterdir():
        tool.chmod(0o755)
    env = {
        "PATH": tools_only(tmp_path / "tools", "dirname", "env", "nproc"),
        "VENV": str(tmp_path / "venv"),
        "CFLAGS": "-O2",
        "MAX_JOBS": "1",
    }
    return subprocess.run(
        [shutil.which("bash"), "tools/setup_env.sh"],
        cwd=REPO,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_setup_env_stops_without_ninja(tmp_path):
    """Without ninja torch would compile mmcv's ops one file at a time: one line, at once."""
    run = setup_env(tmp_path, with_ninja=False)
    assert run.returncode == 1
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: no ninja in {tmp_path}/venv/bin")
    assert not (tmp_path / "venv" / "mmcv_build_path").exists()


def test_setup_env_builds_mmcv_with_the_venv_bin_first_on_path(tmp_path):
    """pip's build subprocess (--no-build-isolation) finds ninja only through PATH."""
    run = setup_env(tmp_path, with_ninja=True)
    path = (tmp_path / "venv" / "mmcv_build_path").read_text().strip()
    assert path.split(":")[0] == f"{tmp_path}/venv/bin", run.stderr
    # The stand-in installs nothing, so the last step finds no compiled ops and says so.
    assert run.returncode == 1
    assert "mmcv is installed WITHOUT compiled ops" in single_error_line(run.stderr)
