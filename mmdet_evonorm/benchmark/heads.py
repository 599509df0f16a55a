"""RoI box heads: parameters and forward+backward time, relative to the baseline head.

Every head gets the same batch of RoI features (default: COCO scale, 512 RoIs of
256x7x7, FC width 1024, 80 classes + background) in train mode; one step is a forward
and ``sum(outputs).backward()``, the heads taking turns (:func:`~.timing.rotated_rounds`).
The baseline is the "2 FC + GN(32) + ReLU" head the original implementation always used.
"""

from __future__ import annotations

import argparse
from functools import partial

import torch
from torch import nn

from .build import build_module
from .cli import at_least, progress
from .machine import machine_description
from .report import Report, Table
from .timing import clock_label, compare, rotated_rounds

TOOL = "tools/benchmark_heads.py"
DEFAULTS = dict(warmup=1, rounds=3)
BN = dict(type="BN")
BASELINE = "baseline: 2 FC + GN + ReLU"
HEADS = {
    BASELINE: dict(type="Shared2FCGNBBoxHead"),
    "mmdet Shared2FCBBoxHead (no norm)": dict(type="Shared2FCBBoxHead"),
    "seph: EvoNorm-S0": dict(type="SepHBBoxHead"),
    "seph: BN + ReLU": dict(type="SepHBBoxHead", norm_cfg=BN),
    "sephv2: EvoNorm-S0": dict(type="SepHV2BBoxHead"),
    "sephv2: BN + ReLU": dict(type="SepHV2BBoxHead", norm_cfg=BN),
}
RES5 = "C3: res5 (stride 1) + avg-pool FC"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--rois", type=at_least(1), default=512, help="RoIs per step")
    add("--in-channels", type=at_least(1), default=256)
    add("--roi-size", type=at_least(1), default=7)
    add("--fc", type=at_least(1), default=1024, help="hidden FC width")
    add("--num-classes", type=at_least(1), default=80)
    add("--with-res5", action="store_true", help=f"also time '{RES5}'")


def build_heads(args: argparse.Namespace) -> dict[str, nn.Module]:
    common = dict(
        in_channels=args.in_channels,
        roi_feat_size=args.roi_size,
        fc_out_channels=args.fc,
        num_classes=args.num_classes,
    )
    heads = {name: build_module({**cfg, **common}) for name, cfg in HEADS.items()}
    if args.with_res5:
        res5 = build_module(dict(type="Res5SharedHead", in_channels=args.in_channels))
        predictor = dict(common, type="NormConvFCBBoxHead", in_channels=res5.out_channels)
        heads[RES5] = nn.Sequential(res5, build_module(dict(predictor, with_avg_pool=True)))
    return {name: head.to(args.device).train() for name, head in heads.items()}


def train_step(head: nn.Module, x: torch.Tensor) -> None:
    """One forward + backward step."""
    head.zero_grad(set_to_none=True)
    cls_score, bbox_pred = head(x)
    (cls_score.sum() + bbox_pred.sum()).backward()


def run(args: argparse.Namespace) -> Report:
    heads = build_heads(args)
    torch.manual_seed(0)
    size = (args.in_channels, args.roi_size, args.roi_size)
    x = torch.randn(args.rois, *size, device=args.device)
    steps = {name: {"train": partial(train_step, head, x)} for name, head in heads.items()}
    stats = compare(
        rotated_rounds(steps, args.device, args.warmup, args.rounds, progress),
        BASELINE,
        args.device,
    )
    figures = dict(machine=machine_description(args.device), clock=clock_label(args.device))
    rows = []
    for name, head in heads.items():
        params, base = (sum(p.numel() for p in h.parameters()) for h in (head, heads[BASELINE]))
        ms, ratio = stats[name]["train"]["median"] * 1e3, stats[name]["train"]["ratio"]
        figures[name] = dict(params=params, train_ms=ms, train_ratio=ratio)
        rows.append(
            [name, f"{params / 1e6:.2f}", f"{params / base:.2f}", f"{ms:.0f}", f"{ratio:.2f}"]
        )
    table = Table(("head", "params (M)", "× baseline", "fwd+bwd (ms)", "× baseline"), rows, "lrrrr")
    text = (
        f"- Machine: {figures['machine']}; times: {figures['clock']}.\n"
        f"- Input: {args.rois} RoIs x {'x'.join(map(str, size))}, FC {args.fc}, "
        f"{args.num_classes} classes, train mode; {args.rounds} rounds after "
        f"{args.warmup} warm-up round(s).\n\n{table.markdown()}"
    )
    return Report(text, table, figures)
