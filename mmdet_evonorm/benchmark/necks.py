"""Cost of the NonLocal / Fusion / Balance neck stages relative to the FPN alone.

Feeds random C3-C5 maps of the shapes mmdet's ResNet-50 gives for a 2×3×512×640
batch (512×64×80, 1024×32×40, 2048×16×20) to each neck of the recipe (FPN width
256, EvoNorm-S0, P3-P6) and reports parameters, FLOPs and forward time.
"""

from __future__ import annotations

import argparse
from functools import partial

import torch

from .build import build_module
from .cli import progress
from .flops import count_flops
from .machine import LoadMeter, machine_description
from .report import Report, Table
from .timing import clock_label, compare, rotated_rounds

TOOL = "tools/benchmark_necks.py"
DEFAULTS = dict(warmup=2, rounds=10)
BATCH, IMAGE = 2, (512, 640)
C_LEVELS = [(512, 8), (1024, 16), (2048, 32)]  # (channels, stride) of R50 C3-C5
WIDTH = 256
FPN = dict(
    type="FPN",
    in_channels=[c for c, _ in C_LEVELS],
    out_channels=WIDTH,
    num_outs=4,
    add_extra_convs="on_input",
    norm_cfg=dict(type="EvoNormS0"),
    act_cfg=None,
)
NON_LOCAL = dict(type="NonLocalStage", in_channels=FPN["in_channels"])
FUSION = dict(type="FusionStage", in_channels=WIDTH)
BALANCE = dict(type="BalanceStage", in_channels=WIDTH)
TF_LEGACY = dict(resize_mode="tf_legacy_bilinear")
NECKS = {
    "FPN (reference)": [FPN],
    "NonLocal + FPN": [NON_LOCAL, FPN],
    "FPN + Fusion v1": [FPN, FUSION],
    "FPN + Fusion v1, TF-legacy resize": [FPN, dict(FUSION, **TF_LEGACY)],
    "FPN + Fusion v2": [FPN, dict(FUSION, version="v2")],
    "FPN + Balance": [FPN, BALANCE],
    "FPN + Balance, TF-legacy resize": [FPN, dict(BALANCE, **TF_LEGACY)],
    "NonLocal + FPN + Fusion v1 (row 1)": [NON_LOCAL, FPN, FUSION],
}
HEADER = (
    "neck", "params (M)", "added params (M)", "GFLOPs", "added GFLOPs",
    "fwd median (ms)", "min (ms)", "time vs FPN",
)  # fmt: skip


def measure(args: argparse.Namespace) -> dict[str, dict]:
    """Per neck: parameters, FLOPs (FlopCounterMode: it counts the NonLocal attention,
    which FlopAnalyzer misses) and forward times in ms."""
    gen = torch.Generator().manual_seed(0)
    shapes = [(BATCH, c, IMAGE[0] // s, IMAGE[1] // s) for c, s in C_LEVELS]
    feats = tuple(torch.randn(shape, generator=gen).to(args.device) for shape in shapes)
    necks = {name: build_module(stages, args.device).eval() for name, stages in NECKS.items()}
    with torch.inference_mode():
        steps = {name: {"fwd": partial(neck, feats)} for name, neck in necks.items()}
        times = rotated_rounds(steps, args.device, args.warmup, args.rounds, progress)
    stats = compare(times, next(iter(necks)), args.device)
    return {
        name: dict(
            params=sum(p.numel() for p in neck.parameters()),
            flops=count_flops(neck, (feats,), trace=False)[0],
            median_ms=stats[name]["fwd"]["median"] * 1e3,
            min_ms=stats[name]["fwd"]["min"] * 1e3,
            ratio=stats[name]["fwd"]["ratio"],
        )
        for name, neck in necks.items()
    }


def table(results: dict[str, dict]) -> Table:
    ref = next(iter(results.values()))
    rows = [
        [name, f"{r['params'] / 1e6:.3f}", f"{(r['params'] - ref['params']) / 1e6:+.3f}"]
        + [f"{r['flops'] / 1e9:.2f}", f"{(r['flops'] - ref['flops']) / 1e9:+.2f}"]
        + [f"{r['median_ms']:.1f}", f"{r['min_ms']:.1f}", f"{r['ratio']:.2f}x"]
        for name, r in results.items()
    ]
    return Table(HEADER, rows, "l" + "r" * 7)


def run(args: argparse.Namespace) -> Report:
    load = LoadMeter()
    results = measure(args)
    machine, load_line = machine_description(args.device), load.summary()
    shapes = ", ".join(f"{c}×{IMAGE[0] // s}×{IMAGE[1] // s}" for c, s in C_LEVELS)
    main = table(results)
    text = f"""## Neck stages: cost relative to the FPN alone

Input: random R50 C3-C5 maps of a {BATCH}×3×{IMAGE[0]}×{IMAGE[1]} batch
(batch {BATCH}; {shapes}). Necks as in the recipe: FPN width {WIDTH}, EvoNorm-S0,
no activation, P3-P6 (P6 from C5); NonLocal on C4 and C5 (GN 32 + ReLU), Fusion
and Balance with the defaults (`torch_bilinear` unless stated). `init_weights()`
called, eval mode, `torch.inference_mode()`.

- Params: all parameters of the neck. FLOPs: `torch.utils.flop_counter.FlopCounterMode`,
  1 FLOP per multiply-add of convolutions, matrix products and attention (norms,
  resizes and other element-wise ops not counted).
- Time ({clock_label(args.device)}): one forward pass, median and minimum of {args.rounds}
  rounds after {args.warmup} warm-up rounds; within a round every neck runs once, in an
  order rotated by one each round, and "time vs FPN" is the median over rounds of
  the ratio to the FPN's time in the same round.
- Machine: {machine}.
- Load: {load_line}

{main.markdown()}
"""
    return Report(text, main, dict(machine=machine, load=load_line, necks=results))
