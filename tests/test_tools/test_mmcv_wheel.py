"""tools/mmcv_wheel.py: the record of a prebuilt mmcv wheel and the check against a machine.

The wheels here are stand-ins: zip files named like mmcv's, whose ``mmcv/_ext*.so`` holds the
two things the tool reads from a real one (the ``libcudart.so.13`` it links and nvcc's
``-arch sm_90`` per cubin)."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from helpers import import_standalone_tool, single_error_line

REPO = Path(__file__).resolve().parents[2]
mmcv_wheel = import_standalone_tool("mmcv_wheel")
CUDA_SO = b"\x7fELF...libcudart.so.13\x00...-arch sm_90 -m 64 ...-arch sm_90 -m 64 "


def fake_wheel(folder: Path, tag: str = "cp312", binary: bytes | None = CUDA_SO) -> Path:
    wheel = folder / f"mmcv-2.1.0-{tag}-{tag}-linux_x86_64.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("mmcv/__init__.py", "")
        if binary is not None:
            archive.writestr(f"mmcv/_ext.cpython-{tag[2:]}-x86_64-linux-gnu.so", binary)
    return wheel


def tool(*args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "tools/mmcv_wheel.py", *map(str, args)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


def recorded(folder: Path, **overrides) -> dict:
    wheel = fake_wheel(folder)
    built = mmcv_wheel.record(wheel, "3.12", "2.11.0+cu130", "9.0", "test")
    (folder / "mmcv-build.json").write_text(json.dumps({**built, **overrides}))
    return built


def test_record_reads_the_wheel(tmp_path):
    wheel = fake_wheel(tmp_path)
    run = tool(
        "record", wheel, "--python", "3.12", "--torch", "2.11.0", "--arch", "9.0",
        "--built-by", "a test", "--out", tmp_path / "mmcv-build.json",
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    built = json.loads((tmp_path / "mmcv-build.json").read_text())
    assert built["wheel"] == wheel.name and built["python_tag"] == "cp312"
    assert (built["cuda_major"], built["gpu_code"]) == (13, ["sm_90"])
    assert (built["torch"], built["built_by"]) == ("2.11.0", "a test")
    assert built["sha256"] == mmcv_wheel.sha256(wheel)


@pytest.mark.parametrize(
    ("tag", "binary", "python", "arch", "expected"),
    [
        ("cp311", CUDA_SO, "3.12", "9.0", "tagged cp311-cp311-linux_x86_64, not cp312"),
        ("cp312", CUDA_SO, "3.12", "8.0;9.0", "no GPU code for arch 8.0 (it holds sm_90)"),
        ("cp312", b"\x7fELF cpu only", "3.12", "9.0", "has no CUDA code"),
        ("cp312", None, "3.12", "9.0", "no mmcv/_ext*.so"),
        ("cp312", CUDA_SO, "3.12", "9", "give a compute capability like 9.0"),
    ],
)
def test_record_refuses(tmp_path, tag, binary, python, arch, expected):
    wheel = fake_wheel(tmp_path, tag, binary)
    out = tmp_path / "mmcv-build.json"
    run = tool(
        "record", wheel, "--python", python, "--torch", "2.11.0", "--arch", arch,
        "--built-by", "t", "--out", out,
    )  # fmt: skip
    assert run.returncode == 2
    assert expected in single_error_line(run.stderr)
    assert not out.exists()


def test_not_an_mmcv_wheel(tmp_path):
    other = tmp_path / "mmcv-2.2.0-cp312-cp312-linux_x86_64.whl"
    fake_wheel(tmp_path).rename(other)
    with pytest.raises(mmcv_wheel.WheelError, match="not an mmcv-2.1.0-"):
        mmcv_wheel.inspect(other)


def test_check_accepts_the_machine_it_was_built_for(tmp_path):
    built = recorded(tmp_path)
    wheel, found = mmcv_wheel.find_wheel(tmp_path)
    assert wheel.name == built["wheel"] and found == built
    mmcv_wheel.check(found, "3.12", "2.11.0+cu130", "13.0", "9.0")


@pytest.mark.parametrize(
    ("python", "torch", "cuda", "arch", "expected"),
    [
        ("3.11", "2.11.0+cu130", "13.0", "9.0", "built for Python 3.12, this is 3.11"),
        ("3.12", "2.13.0+cu130", "13.0", "9.0", "built against torch 2.11.0+cu130"),
        ("3.12", "2.11.0+cu126", "12.6", "9.0", "links CUDA 13's runtime"),
        ("3.12", "2.11.0+cpu", None, "9.0", "has CUDA None"),
        ("3.12", "2.11.0+cu130", "13.0", "8.0", "not this GPU's sm_80"),
    ],
)
def test_check_refuses_another_machine(tmp_path, python, torch, cuda, arch, expected):
    recorded(tmp_path)
    _, built = mmcv_wheel.find_wheel(tmp_path)
    with pytest.raises(mmcv_wheel.WheelError, match="make_gpu_wheelhouse") as error:
        mmcv_wheel.check(built, python, torch, cuda, arch)
    assert expected in str(error.value)


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        ("no record", "without a readable mmcv-build.json"),
        ("other file", "describes another file"),
        ("two wheels", "2 mmcv-2.1.0 wheels, not 1"),
    ],
)
def test_check_refuses_a_wheelhouse(tmp_path, setup, expected):
    recorded(tmp_path, **({"sha256": "0" * 64} if setup == "other file" else {}))
    if setup == "no record":
        (tmp_path / "mmcv-build.json").unlink()
    if setup == "two wheels":
        fake_wheel(tmp_path, "cp311")
    run = tool("check", tmp_path, "--arch", "9.0")
    assert run.returncode == 2
    assert expected in single_error_line(run.stderr)
