"""mmdet_evonorm.benchmark.detector: input, RoI budget, steps, FLOPs and peak memory."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

from mmdet_evonorm.benchmark.detector import (
    BenchmarkInput,
    add_input_arguments,
    benchmark_model_cfg,
    box_head_rows,
    input_from_args,
    peak_allocated,
)

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def test_benchmark_model_cfg_scales_every_per_image_count():
    model = Config.fromfile(str(CONFIGS / "mask_rcnn_c3_res5_anchor120.py")).model
    scaled = benchmark_model_cfg(model, BenchmarkInput(roi_scale=0.25, score_thr=None))
    rpn_proposal = scaled.train_cfg.rpn_proposal
    assert (rpn_proposal.nms_pre, rpn_proposal.max_per_img) == (1500, 250)
    assert (scaled.test_cfg.rpn.nms_pre, scaled.test_cfg.rpn.max_per_img) == (750, 128)
    assert scaled.train_cfg.rcnn.sampler.num == 32 and scaled.test_cfg.rcnn.max_per_img == 25
    assert scaled.train_cfg.rpn.sampler.num == 256  # anchors: not a RoI count
    assert model.test_cfg.rpn.max_per_img == 512  # the input is left as it was
    assert BenchmarkInput(288, 384).resolved_roi_scale == 0.25
    assert BenchmarkInput(800, 1333).resolved_roi_scale == 1.0
    full = benchmark_model_cfg(model, BenchmarkInput(800, 1333))
    assert full.test_cfg.rpn.max_per_img == 512 and full.test_cfg.rcnn.score_thr == 0.0
    kept = benchmark_model_cfg(model, BenchmarkInput(800, 1333, score_thr=None))
    assert kept.test_cfg.rcnn.score_thr == 0.3


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--amp"], "--amp needs --device cuda"),
        (["--input", "64"], "expected HxW"),
        (["--input", "16x16"], "at least 32x32"),
        (["--roi-scale", "2"], "argument --roi-scale: must be in (0, 1]"),
        (["--roi-scale", "x"], "argument --roi-scale: invalid fraction value: 'x'"),
        (["--batch", "0"], "argument --batch: must be >= 1"),
    ],
)
def test_input_options_refuse_bad_values(argv, message, capsys):
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cpu")
    add_input_arguments(parser)
    with pytest.raises(SystemExit) as exit_info:
        input_from_args(parser, parser.parse_args(argv))
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


def test_input_options_give_the_benchmark_input():
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cpu")
    add_input_arguments(parser)
    inp = input_from_args(parser, parser.parse_args(["--input", "64x96", "--batch", "1"]))
    assert inp == BenchmarkInput(64, 96, num_images=1)
    # 64x96 px is 1/73.7 of the recipe's 576x768: 1000 proposals -> 14, 100 detections -> 1.
    assert "1000 -> 14" in inp.describe() and "100 -> 1)" in inp.describe()


def test_model_bench_steps_flops_and_memory(tiny_c4_bench):
    bench = tiny_c4_bench
    steps = bench.steps()
    assert list(steps) == ["train", "infer"]
    steps["train"]()
    with box_head_rows(bench.model) as rows:
        steps["infer"]()
    assert bench.detections_per_image == 1.0  # score_thr 0 keeps max_per_img
    assert rows == {"cls": 1, "reg": 1}  # shrink_for_cpu's 100 proposals x 0.0139
    assert all(p.grad is None for p in bench.model.parameters())
    cost = bench.cost((64, 64))
    assert cost["params"] == sum(p.numel() for p in bench.model.parameters())
    assert cost["flops"] > 0 and cost["flops_method"] == "mmengine FlopAnalyzer"
    memory = bench.peak_memory()
    assert memory["mem_train"] > memory["mem_infer"] > 0


def test_peak_allocated_counts_live_tensors_on_cpu():
    def two_live_tensors():
        a = torch.ones(2**20)  # 4 MiB
        b = a * 2  # 4 MiB more while a is alive
        return float(b[0])

    peak = peak_allocated(two_live_tensors, torch.device("cpu"))
    assert 8 * 2**20 <= peak < 9 * 2**20
