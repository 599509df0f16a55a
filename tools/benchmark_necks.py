"""Cost of the NonLocal / Fusion / Balance neck stages relative to the FPN alone.

Feeds random C3-C5 maps of the shapes mmdet's ResNet-50 gives for a 2×3×512×640
batch (512×64×80, 1024×32×40, 2048×16×20) to each neck of the recipe (FPN width
256, EvoNorm-S0, P3-P6) and prints parameters, FLOPs (PyTorch's
``FlopCounterMode``: 2 per multiply-add, element-wise ops not counted) and CPU
forward time.

Example::

    python tools/benchmark_necks.py --out necks.md  # the table of docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import os
from functools import partial

import torch
from mmengine.logging import MMLogger
from torch.utils.flop_counter import FlopCounterMode

from mmdet_evonorm.analysis.timing import (
    LoadMeter,
    clock_label,
    machine_description,
    median_ratio,
    round_robin,
    summarize,
)

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
TF_LEGACY = dict(resize_mode="tf_legacy_bilinear")
SHARED = (
    " **The CPUs were shared with other jobs** (load above their count): compare the"
    " ratios, not the absolute times."
)
NECKS = {
    "FPN (reference)": [FPN],
    "NonLocal + FPN": [NON_LOCAL, FPN],
    "FPN + Fusion v1": [FPN, dict(type="FusionStage", in_channels=WIDTH)],
    "FPN + Fusion v1, TF-legacy resize": [
        FPN,
        dict(type="FusionStage", in_channels=WIDTH, **TF_LEGACY),
    ],
    "FPN + Fusion v2": [FPN, dict(type="FusionStage", in_channels=WIDTH, version="v2")],
    "FPN + Balance": [FPN, dict(type="BalanceStage", in_channels=WIDTH)],
    "FPN + Balance, TF-legacy resize": [
        FPN,
        dict(type="BalanceStage", in_channels=WIDTH, **TF_LEGACY),
    ],
    "NonLocal + FPN + Fusion v1 (row 1)": [
        NON_LOCAL,
        FPN,
        dict(type="FusionStage", in_channels=WIDTH),
    ],
}


def features(seed: int = 0) -> tuple[torch.Tensor, ...]:
    gen = torch.Generator().manual_seed(seed)
    return tuple(
        torch.randn(BATCH, c, IMAGE[0] // s, IMAGE[1] // s, generator=gen) for c, s in C_LEVELS
    )


def build_neck(stages: list[dict]) -> torch.nn.Module:
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules

    import mmdet_evonorm  # noqa: F401  (registers the stages and EvoNormS0)

    register_all_modules()
    torch.manual_seed(0)
    neck = MODELS.build(stages)
    neck.init_weights()
    return neck.eval()


def count_flops(neck: torch.nn.Module, feats) -> int:
    """FLOPs of one forward pass (2 per multiply-add; conv, matmul, attention)."""
    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        neck(feats)
    return counter.get_total_flops()


def measure(warmup: int, repeat: int) -> list[dict]:
    feats = features()
    necks = {name: build_neck(stages) for name, stages in NECKS.items()}
    with torch.inference_mode():
        steps = {name: partial(neck, feats) for name, neck in necks.items()}
        times = round_robin(steps, "cpu", warmup, repeat)
    ref = times[next(iter(necks))]
    return [
        dict(
            name=name,
            params=sum(p.numel() for p in neck.parameters()),
            flops=count_flops(neck, feats),
            **{k: v * 1e3 for k, v in summarize(times[name]).items() if k != "n"},
            ratio=median_ratio(times[name], ref),
        )
        for name, neck in necks.items()
    ]


def table(rows: list[dict]) -> str:
    ref = rows[0]
    lines = [
        "| neck | params (M) | added params (M) | GFLOPs | added GFLOPs "
        "| fwd median (ms) | min (ms) | time vs FPN |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['name']} | {r['params'] / 1e6:.3f} "
            f"| {(r['params'] - ref['params']) / 1e6:+.3f} | {r['flops'] / 1e9:.2f} "
            f"| {(r['flops'] - ref['flops']) / 1e9:+.2f} | {r['median']:.1f} "
            f"| {r['min']:.1f} | {r['ratio']:.2f}x |"
        )
    return "\n".join(lines)


def report(rows: list[dict], warmup: int, repeat: int, load: LoadMeter) -> str:
    shapes = ", ".join(f"{c}×{IMAGE[0] // s}×{IMAGE[1] // s}" for c, s in C_LEVELS)
    return f"""## Neck stages: cost relative to the FPN alone

Input: random R50 C3-C5 maps of a {BATCH}×3×{IMAGE[0]}×{IMAGE[1]} batch
(batch {BATCH}; {shapes}). Necks as in the recipe: FPN width {WIDTH}, EvoNorm-S0,
no activation, P3-P6 (P6 from C5); NonLocal on C4 and C5 (GN 32 + ReLU), Fusion
and Balance with the defaults (`torch_bilinear` unless stated). `init_weights()`
called, eval mode, `torch.inference_mode()`.

- Params: all parameters of the neck. FLOPs: `torch.utils.flop_counter.FlopCounterMode`
  (2 FLOPs per multiply-add of convolutions, matrix products and attention;
  norms, resizes and other element-wise ops not counted). (The per-row table uses
  mmengine's `FlopAnalyzer`, 1 FLOP per multiply-add, which traces with `torch.jit`.)
- Time ({clock_label("cpu")}): one forward pass, median and minimum of {repeat}
  rounds after {warmup} warm-up rounds; within a round every neck runs once, in an
  order rotated by one each round, and "time vs FPN" is the median over rounds of
  the ratio to the FPN's time in the same round.
- Machine: {machine_description()}.
- Load: {load.summary()}.{SHARED if load.machine_was_shared() else ""}

{table(rows)}
"""


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warmup", type=int, default=2, help="warm-up passes")
    parser.add_argument("--repeat", type=int, default=10, help="timed passes")
    parser.add_argument("--out", help="also write the Markdown report to this file")
    args = parser.parse_args()
    if args.warmup < 0 or args.repeat < 1:
        parser.error("--warmup must be >= 0 and --repeat >= 1")
    if args.out and not os.path.isdir(os.path.dirname(os.path.abspath(args.out))):
        parser.error(f"--out {args.out}: the folder does not exist; create it first")
    return args


def main() -> None:
    args = parse_args()
    MMLogger.get_instance("benchmark_necks", log_level="WARNING")  # quiet init logs
    meter = LoadMeter().start()
    rows = measure(args.warmup, args.repeat)
    text = report(rows, args.warmup, args.repeat, meter)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
