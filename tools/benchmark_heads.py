"""Forward+backward time and parameter count of the RoI box heads, relative to the baseline.

Every head gets the same batch of RoI features (COCO scale: 512 RoIs of 256x7x7,
FC width 1024, 80 classes + background) in training mode; one step is forward,
``sum(outputs).backward()``. The heads take turns step by step (``--reps`` rounds
after ``--warmup`` untimed steps each), so a change of machine load hits all of them
alike; the table reports each head's median step time and the median over rounds of
its time ratio to the baseline in the same round (CPU time of the process on CPU,
CUDA events on a GPU: ``mmdet_evonorm.analysis.timing``). The baseline is the "2 FC + GN(32) +
ReLU" head (SPEC.md §4.3). Nothing is asserted: the figures go to docs/benchmarks.md
together with the machine line printed first.

Usage::

    python tools/benchmark_heads.py                       # CPU, default threads
    python tools/benchmark_heads.py --reps 5 --threads 2
    python tools/benchmark_heads.py --with-res5           # + the C3 res5 box path (slow)
    python tools/benchmark_heads.py --device cuda
"""

from __future__ import annotations

import argparse
import statistics
import sys
from functools import partial

import torch
from mmdet.registry import MODELS
from mmdet.utils import register_all_modules
from torch import nn

import mmdet_evonorm  # noqa: F401  (registers the heads)
from mmdet_evonorm.analysis.timing import (
    clock_label,
    machine_description,
    median_ratio,
    round_robin,
)

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


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rois", type=int, default=512, help="RoIs per step")
    parser.add_argument("--in-channels", type=int, default=256)
    parser.add_argument("--roi-size", type=int, default=7)
    parser.add_argument("--fc", type=int, default=1024, help="hidden FC width")
    parser.add_argument("--num-classes", type=int, default=80)
    parser.add_argument("--reps", type=int, default=3, help="timed steps per head")
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps per head")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--with-res5", action="store_true", help=f"also time '{RES5}'")
    args = parser.parse_args(argv)
    for field in ("rois", "reps", "warmup", "in_channels", "roi_size", "fc", "num_classes"):
        if getattr(args, field) < (0 if field == "warmup" else 1):
            parser.error(f"--{field.replace('_', '-')} must be positive")
    return args


def build_heads(args: argparse.Namespace) -> dict[str, nn.Module]:
    register_all_modules()
    common = dict(
        in_channels=args.in_channels,
        roi_feat_size=args.roi_size,
        fc_out_channels=args.fc,
        num_classes=args.num_classes,
    )
    heads = {name: MODELS.build({**cfg, **common}) for name, cfg in HEADS.items()}
    if args.with_res5:
        res5 = MODELS.build(dict(type="Res5SharedHead", in_channels=args.in_channels))
        predictor = dict(common, in_channels=res5.out_channels, with_avg_pool=True)
        heads[RES5] = nn.Sequential(res5, MODELS.build(dict(predictor, type="NormConvFCBBoxHead")))
    return heads  # default init: the weights' values do not change the timing


def train_step(head: nn.Module, x: torch.Tensor) -> None:
    """One forward + backward step."""
    head.zero_grad(set_to_none=True)
    cls_score, bbox_pred = head(x)
    (cls_score.sum() + bbox_pred.sum()).backward()


def benchmark(
    heads: dict[str, nn.Module], x: torch.Tensor, warmup: int, reps: int
) -> dict[str, list[float]]:
    """Step times per head, one per round; the heads take turns within a round."""
    for head in heads.values():
        head.to(x.device).train()
    steps = {name: partial(train_step, head, x) for name, head in heads.items()}
    return round_robin(
        steps, x.device, warmup, reps, progress=lambda line: print(f"# {line}", file=sys.stderr)
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    torch.manual_seed(0)
    heads = build_heads(args)
    x = torch.randn(args.rois, args.in_channels, args.roi_size, args.roi_size, device=device)
    print(f"# machine: {machine_description(device)}; times: {clock_label(device)}")
    print(
        f"# {args.rois} RoIs x {args.in_channels}x{args.roi_size}x{args.roi_size}, "
        f"FC {args.fc}, {args.num_classes} classes, train mode, "
        f"{args.reps} rounds after {args.warmup} warm-up step(s) per head"
    )
    times = benchmark(heads, x, args.warmup, args.reps)
    params = {name: sum(p.numel() for p in head.parameters()) for name, head in heads.items()}
    base = times[BASELINE]
    print("| head | params (M) | × baseline | fwd+bwd (ms) | × baseline |")
    print("|---|---:|---:|---:|---:|")
    for name in heads:
        ratio = median_ratio(times[name], base)
        print(
            f"| {name} | {params[name] / 1e6:.2f} | {params[name] / params[BASELINE]:.2f} | "
            f"{statistics.median(times[name]) * 1e3:.0f} | {ratio:.2f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
