"""The benchmark tools from the command line (tools/benchmark*.py), at tiny sizes.

What they measure is tested in tests/test_benchmark/; here only that each script
parses, runs, prints and writes ``--out`` (Markdown + JSON). No figure is checked
against a speed target.
"""

from __future__ import annotations

import json
import re

import pytest
import torch
from mmengine.config import Config

from mmdet_evonorm.testing import shrink_for_cpu

C4 = "configs/mask_rcnn_fpn3_sephv2_evonorm_cosine.py"
FIELDS = (
    "config",
    "machine",
    "device",
    "input",
    "params",
    "flops",
    "train step",
    "inference",
    "detections per image",
    "peak memory train step",
    "peak memory inference",
)
TINY_RUN = ("--input", "64x96", "--flops-input", "64x64", "--batch", "1", "--warmup", "0")


@pytest.fixture(scope="module")
def tiny_c4(tmp_path_factory):
    """Row C4 with an R18 backbone and width 32 (``shrink_for_cpu``), as a config file."""
    cfg = Config.fromfile(C4)
    cfg.model = shrink_for_cpu(cfg.model, width=32)
    path = tmp_path_factory.mktemp("bench") / "c4_tiny.py"
    cfg.dump(str(path))
    return path


def fields(stdout: str) -> dict[str, str]:
    summary = stdout.split("###")[0].strip().splitlines()
    return dict(line.split(": ", 1) for line in summary)


def number(text: str) -> float:
    return float(re.match(r"[\d.]+", text).group())


def test_benchmark_prints_every_field_and_writes_json(tool, tiny_c4, tmp_path):
    out = tmp_path / "c4.md"
    run = tool("tools/benchmark.py", tiny_c4, *TINY_RUN, "--rounds", "1", "--profile", "--out", out)
    assert run.returncode == 0, run.stderr[-3000:]
    found = fields(run.stdout)
    assert set(FIELDS) <= set(found)
    assert found["device"] == "cpu" and "per 64x64 image" in found["flops"]
    assert number(found["train step"]) > 0 and number(found["inference"]) > 0
    assert "### torch.profiler: infer" in run.stdout
    assert out.read_text() == run.stdout
    figures = json.loads(out.with_suffix(".json").read_text())["figures"]
    assert found["params"] == f"{figures['cost']['params'] / 1e6:.2f} M"
    assert len(figures["seconds"]["train"]["cpu"]) == 1


def test_benchmark_rejects_bad_input(tool):
    run = tool("tools/benchmark.py", "missing.py")
    assert run.returncode == 2 and "missing.py: no such config file" in run.stderr
    assert not run.stdout


def test_norm_writes_markdown_and_json(tool, tmp_path):
    out = tmp_path / "norm.md"
    args = ("--shape", "2x64x6x6", "--rounds", "2", "--warmup", "0", "--copy-mib", "1")
    run = tool("tools/benchmark_norm.py", *args, "--out", out)
    assert run.returncode == 0, run.stderr[-3000:]
    assert out.read_text() == run.stdout
    report = json.loads(out.with_suffix(".json").read_text())
    assert [t["target"] for t in report["targets"]] == [
        "2x64x6x6 fp32: EvoNormS0 fwd+bwd <= 1.0x GN+ReLU",
        "2x64x6x6 fp32: saved memory <= 0.5x GN+ReLU",
    ]
    assert set(report["figures"]["results"]["2x64x6x6 fp32"]) >= {"GN+ReLU", "EvoNormS0"}


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message without CUDA")
def test_norm_without_cuda_is_refused(tool):
    run = tool("tools/benchmark_norm.py", "--device", "cuda")
    assert run.returncode == 2
    assert "--device cuda: no CUDA device is available; use --device cpu" in run.stderr


def test_heads_writes_its_table_as_csv(tool, tmp_path):
    out = tmp_path / "heads.csv"
    sizes = ("--rois", "2", "--in-channels", "32", "--fc", "32", "--num-classes", "2")
    run = tool("tools/benchmark_heads.py", *sizes, "--rounds", "1", "--warmup", "0", "--out", out)
    assert run.returncode == 0, run.stderr[-3000:]
    lines = out.read_text().splitlines()
    assert lines[0] == "head,params (M),× baseline,fwd+bwd (ms),× baseline"
    assert lines[1].startswith("baseline: 2 FC + GN + ReLU,") and len(lines) == 7
    assert "| seph: EvoNorm-S0 |" in run.stdout


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_benchmark_on_cuda_with_amp(tool, tiny_c4):
    args = (tiny_c4, "--device", "cuda", "--amp", "--input", "64x96", "--flops-input", "64x64")
    run = tool("tools/benchmark.py", *args, "--rounds", "2")
    assert run.returncode == 0, run.stderr[-3000:]
    found = fields(run.stdout)
    assert found["device"] == "cuda + AMP (float16)"
    assert number(found["peak memory train step"]) > 0
    assert number(found["train step"]) > 0
