"""tools/make_gpu_wheelhouse.sh: --help and the refusals, which come before any download
(one ``error:`` line, exit status 2, nothing made). A full run downloads several GB (torch
with its CUDA libraries) and compiles for about 46 min, so it is not a test."""

from __future__ import annotations

import os
import subprocess
import zipfile
from pathlib import Path

import pytest
from helpers import single_error_line

REPO = Path(__file__).resolve().parents[2]


def make_wheelhouse(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", "tools/make_gpu_wheelhouse.sh", *map(str, args)],
        cwd=REPO,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def assert_nothing_made(tmp_path: Path, keep: tuple[str, ...] = ()) -> None:
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(keep)


def test_help_describes_the_no_build_procedure(tmp_path):
    run = make_wheelhouse(tmp_path, "--help")
    assert run.returncode == 0, run.stderr
    for part in (
        "--out DIR",
        "--python 3.12|PATH",
        "--torch 2.11.0",
        "--arch 9.0",
        "--mmcv-wheel WHL",
        "--dry-run",
        "bash tools/gpu_check.sh --wheelhouse DIR",
        "cuda-toolkit[nvcc,cccl,crt,nvvm,cudart]",
        "mmcv-build.json",
        "about 46 min",
    ):
        assert part in run.stdout, part


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((), "--out DIR is required"),
        (("--out",), "--out needs a value"),
        (("--frobnicate",), "unknown argument --frobnicate"),
        (("--torch", "2.11"), "--torch 2.11: give a release like 2.11.0"),
        (("--arch", "9"), "'9' is no compute capability like 9.0"),
        (("--arch", "8.0;sm_90"), "'sm_90' is no compute capability"),
        (("--jobs", "0"), "--jobs 0: give a number"),
        (("--python", "3.99"), "--python 3.99: cannot run python3.99"),
        (("--mmcv-wheel", "/no/such.whl"), "--mmcv-wheel /no/such.whl: no such file"),
        (("--mmcv-wheel", "x.whl", "--dry-run"), "--mmcv-wheel and --dry-run exclude each other"),
    ],
)
def test_bad_arguments(tmp_path, args, expected):
    out = ("--out", tmp_path / "wheelhouse") if args and args[0] != "--out" else ()
    run = make_wheelhouse(tmp_path, *out, *args)
    assert run.returncode == 2
    assert expected in single_error_line(run.stderr)
    assert_nothing_made(tmp_path)


def test_existing_out_is_not_touched(tmp_path):
    (tmp_path / "wheelhouse").mkdir()
    (tmp_path / "wheelhouse" / "keep.whl").write_text("mine")
    run = make_wheelhouse(tmp_path, "--out", tmp_path / "wheelhouse")
    assert run.returncode == 2
    assert "exists; name a new folder" in single_error_line(run.stderr)
    assert (tmp_path / "wheelhouse" / "keep.whl").read_text() == "mine"
    assert_nothing_made(tmp_path, keep=("wheelhouse",))


def test_no_c_compiler(tmp_path):
    run = make_wheelhouse(tmp_path, "--out", tmp_path / "wheelhouse", CC="/no/such/cc")
    assert run.returncode == 2
    line = single_error_line(run.stderr)
    assert "no C/C++ compiler '/no/such/cc'" in line and "build-essential" in line
    assert_nothing_made(tmp_path)


def test_mmcv_wheel_for_another_python(tmp_path):
    """A prebuilt wheel is checked before anything is downloaded; no staging folder stays."""
    wheel = tmp_path / "given" / "mmcv-2.1.0-cp311-cp311-linux_x86_64.whl"
    wheel.parent.mkdir()
    with zipfile.ZipFile(wheel, "w") as archive:
        binary = b"libcudart.so.13\x00 -arch sm_90 -m 64 "
        archive.writestr("mmcv/_ext.cpython-311-x86_64-linux-gnu.so", binary)
    run = make_wheelhouse(tmp_path, "--out", tmp_path / "wheelhouse", "--mmcv-wheel", wheel)
    assert run.returncode == 2
    assert "tagged cp311-cp311-linux_x86_64, not cp312" in single_error_line(run.stderr)
    assert_nothing_made(tmp_path, keep=("given",))
