"""mmdet_evonorm.benchmark.norm: byte model, targets and a run at tiny shapes."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from mmdet_evonorm.benchmark import norm
from mmdet_evonorm.benchmark.cli import parse_args


def test_byte_model():
    # 8 passes of 1 M bf16 elements in 1 ms: 16.8 GB/s
    assert norm.gbps("train", 2**20, torch.bfloat16, 1e-3) == pytest.approx(8 * 2**21 / 1e-3 / 1e9)
    assert norm.gbps("fwd", 10, torch.float32, 1.0) == 3 * 40 / 1e9


def test_targets_pass_on_the_printed_value_and_skip_2d_shapes_on_cpu():
    shape = (2, 256, 200, 336)
    fast = 8 * torch.Size(shape).numel() * 2 / (0.8e12)  # 80 % of a 1 TB/s copy
    results = {
        norm.EVONORM: dict(train=fast, train_ratio=0.6, saved_ratio=0.501),
        "GN+ReLU": dict(train=2 * fast, train_ratio=1.0, saved_ratio=1.0),
    }
    label = "FPN P3 2x256x200x336"
    checks = norm.checks("cuda", {(label, "bf16"): results}, {label: shape}, 1e12)
    assert [c.met for c in checks] == [True, True, True]  # 0.501 prints as 0.50
    assert checks[2].measured == "80 %" and checks[2].at_least
    results[norm.EVONORM].update(train_ratio=1.2, saved_ratio=0.6)
    checks = norm.checks("cpu", {("4-D", "fp32"): results}, {"4-D": (2, 32, 4, 4)}, 1e12)
    assert [(c.target, c.measured, c.met) for c in checks] == [
        ("4-D fp32: EvoNormS0 fwd+bwd <= 1.0x GN+ReLU", "1.20x", False),
        ("4-D fp32: saved memory <= 0.5x GN+ReLU", "0.60x", False),
    ]
    assert norm.checks("cpu", {("2-D", "fp32"): results}, {"2-D": (2, 32)}, 1e12) == []


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--shape", "2x33x4x4"], "C a multiple of 32"),
        (["--shape", "2xfoo"], "expected NxC or NxCxHxW"),
        (["--copy-mib", "0"], "argument --copy-mib: must be >= 1"),
    ],
)
def test_bad_options(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        parse_args(norm, argv)
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


def test_defaults_follow_the_device():
    args = parse_args(norm, [])
    assert args.shapes == norm.SHAPES["cpu"] and args.dtypes == ["fp32"]
    assert (args.warmup, args.rounds) == (5, 30)


def test_run_at_tiny_shapes():
    args = parse_args(norm, ["--shape", "2x64x6x6", "--shape", "8x64", "--rounds", "2"])
    args.warmup, args.copy_mib = 0, 1
    report = norm.run(args)
    rows = [r for r in report.table.rows if r[0] == "2x64x6x6"]
    assert [r[2] for r in rows][:4] == [
        "BN+ReLU",
        "GN+ReLU",
        "EvoNormS0",
        "EvoNormS0, PyTorch path",
    ]
    gn = next(r for r in rows if r[2] == "GN+ReLU")
    assert gn[4] == gn[8] == gn[12] == "1.00"
    evo = next(r for r in rows if r[2] == "EvoNormS0")
    # saved: x plus the per-group mean and rstd, against GN's input and ReLU's output
    assert 0.50 <= float(evo[12]) <= 0.52
    assert [c.target for c in report.checks] == [
        "2x64x6x6 fp32: EvoNormS0 fwd+bwd <= 1.0x GN+ReLU",
        "2x64x6x6 fp32: saved memory <= 0.5x GN+ReLU",
    ]  # the CPU targets are for the 4-D shapes
    assert "Byte model: GB/s = passes" in report.markdown
    assert "CPU time of this process" in report.markdown
    saved = report.figures["results"]["2x64x6x6 fp32"]["EvoNormS0"]["saved_ratio"]
    assert saved == pytest.approx(float(evo[12]), abs=0.005)


BLOCKED_PROBE = """
import sys

class NoMmcvMmdet:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("mmcv", "mmdet"):
            raise ImportError(f"{name} is not installed (blocked by the test)")

sys.meta_path.insert(0, NoMmcvMmdet())
from mmdet_evonorm.benchmark import cli, norm
sys.exit(cli.main(norm, ["--shape", "2x32x4x4", "--rounds", "1", "--warmup", "0",
                         "--copy-mib", "1"]))
"""


def test_runs_without_mmcv_and_mmdet():
    """As tools/gpu_check.sh runs it before mmcv is built (MMDET_EVONORM_KERNELS_ONLY=1)."""
    env = {**os.environ, "MMDET_EVONORM_KERNELS_ONLY": "1", "OMP_NUM_THREADS": "1"}
    run = subprocess.run(
        [sys.executable, "-c", BLOCKED_PROBE], env=env, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert "| 2x32x4x4 | fp32 | EvoNormS0 |" in run.stdout
