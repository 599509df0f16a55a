"""EvoNorm-S0 against BN+ReLU and GN+ReLU: time, bandwidth and saved memory.

Train-mode forward+backward, no-grad forward and the bytes saved for backward of each
candidate, as ratios to GN+ReLU and as GB/s under :data:`BYTE_MODEL` against a copy.
Targets (:func:`checks`; a ratio passes if its printed value does): fwd+bwd at most
GN+ReLU's time and saved memory at most half of it at every 4-D shape; on CUDA also
fwd+bwd at FPN P3 in bf16 at 70 % of the copy bandwidth or more. Needs torch only (no
mmcv). Candidates and protocol: docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import time
from functools import partial
from unittest import mock

import torch
from torch import nn

from mmdet_evonorm.models.layers import EvoNormS0, evonorm_cpu_kernel
from mmdet_evonorm.models.layers.evonorm_function import BACKEND_ENV
from mmdet_evonorm.models.layers.timm_reference import load_timm_evonorm2d_s0

from .cli import at_least
from .machine import LoadMeter, machine_description
from .report import Check, Report, Table, checks_table
from .timing import clock_label, compare, judged, median, rotated_rounds

TOOL = "tools/benchmark_norm.py"
DEFAULTS = dict(warmup=5, rounds=30)
SHAPES = {
    "cpu": {
        "FPN map 2x256x100x152": (2, 256, 100, 152),
        "RoI batch 512x256x7x7": (512, 256, 7, 7),
        "FC 512x1024 (2-D)": (512, 1024),
    },
    "cuda": {
        "FPN P3 2x256x200x336": (2, 256, 200, 336),
        "FPN P5 2x256x50x84": (2, 256, 50, 84),
        "RoI batch 512x256x7x7": (512, 256, 7, 7),
    },
}
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
BASELINE, EVONORM = "GN+ReLU", "EvoNormS0"
#: Passes over an input-sized tensor that EvoNorm-S0 must make (:data:`BYTE_MODEL`).
PASSES = {"fwd": 3, "train": 5 + 3}
BYTE_MODEL = (
    "GB/s = passes x elements x bytes per element / time, with the passes EvoNorm-S0 "
    "must make over an input-sized tensor: 3 forward (read x for the statistics, read x, "
    "write y), 5 backward (read x and dy for the sums, read x and dy, write dx), 8 "
    "forward+backward; the same count for every candidate. Copy: dst.copy_(src), read + "
    "write counted."
)
#: Target limits: fwd+bwd time and saved bytes over GN+ReLU's; % of copy (CUDA, P3 bf16).
MAX_TRAIN_RATIO, MAX_SAVED_RATIO, MIN_COPY_SHARE = 1.0, 0.5, 70
HEADER = (
    "shape", "dtype", "layer", "fwd ms", "x GN+ReLU", "fwd GB/s", "% of copy",
    "fwd+bwd ms", "x GN+ReLU", "fwd+bwd GB/s", "% of copy", "saved MiB", "x GN+ReLU",
)  # fmt: skip


class CompiledFormula(nn.Module):
    """torch.compile of the plain EvoNorm-S0 formula (statistics in float32)."""

    def __init__(self, channels: int, groups: int = 32, eps: float = 1e-5) -> None:
        super().__init__()
        self.groups, self.eps = groups, eps
        self.weight, self.bias, self.v = (
            nn.Parameter(torch.full((channels,), f)) for f in (1, 0, 1)
        )
        self.formula = torch.compile(self._formula)

    def _formula(self, x, weight, bias, v):
        shape = (1, -1) + (1,) * (x.dim() - 2)
        xf = x.float()
        var = xf.view(x.shape[0], self.groups, -1).var(dim=2, unbiased=False)
        rstd = (var + self.eps).rsqrt().repeat_interleave(x.shape[1] // self.groups, 1)
        y = xf * torch.sigmoid(v.float().view(shape) * xf) * rstd.view(*rstd.shape, *shape[2:])
        return (y * weight.float().view(shape) + bias.float().view(shape)).to(x.dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.formula(x, self.weight, self.bias, self.v)


def _shape(text: str) -> tuple[int, ...]:
    """An argparse ``type``: ``NxC`` or ``NxCxHxW``, C a multiple of 32 (GN(32))."""
    try:
        shape = tuple(int(d) for d in text.split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError("expected NxC or NxCxHxW, e.g. 2x64x8x8") from None
    if len(shape) not in (2, 4) or min(shape) < 1 or shape[1] % 32:
        raise argparse.ArgumentTypeError("N x C (x H x W), every size >= 1, C a multiple of 32")
    return shape


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--dtypes", nargs="+", choices=DTYPES, help="default: fp32 (CPU), fp32 bf16 (CUDA)")
    add("--shape", action="append", type=_shape, metavar="NxCxHxW", help="instead of the defaults")
    add("--copy-mib", type=at_least(1), default=512, help="buffer of the copy bandwidth")


def check_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """The device's default shapes and dtypes where none are given."""
    args.shapes = {"x".join(map(str, s)): s for s in args.shape or ()} or SHAPES[args.device]
    args.dtypes = args.dtypes or (["fp32", "bf16"] if args.device == "cuda" else ["fp32"])


class _Forced(nn.Module):
    """EvoNorm-S0 on the back end ``backend`` (chosen in the forward; the backward follows)."""

    def __init__(self, channels: int, backend: str) -> None:
        super().__init__()
        self.norm, self.backend = EvoNormS0(channels), backend

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with mock.patch.dict(os.environ, {BACKEND_ENV: self.backend}):
            return self.norm(x)


def build_candidates(
    channels: int, two_d: bool, device: str, dtype: torch.dtype
) -> dict[str, nn.Module]:
    """The layers to compare, by name, in train mode on ``device`` in ``dtype``."""
    bn = nn.BatchNorm1d if two_d else nn.BatchNorm2d
    layers = {
        "BN+ReLU": nn.Sequential(bn(channels), nn.ReLU(inplace=True)),
        BASELINE: nn.Sequential(nn.GroupNorm(32, channels), nn.ReLU(inplace=True)),
        EVONORM: _Forced(channels, "triton" if device == "cuda" else "cpu"),
        "EvoNormS0, PyTorch path": _Forced(channels, "torch"),
    }
    if device == "cuda":
        layers["compiled formula"] = CompiledFormula(channels)
    elif (timm_cls := load_timm_evonorm2d_s0()) is not None:  # 4-D only: 2-D as [N, C, 1, 1]
        timm = timm_cls(channels)
        as_4d = (nn.Unflatten(1, (channels, 1, 1)), timm, nn.Flatten(1))
        layers["timm EvoNorm2dS0"] = nn.Sequential(*as_4d) if two_d else timm
    return {name: layer.to(device=device, dtype=dtype).train() for name, layer in layers.items()}


def saved_bytes(layer: nn.Module, x: torch.Tensor) -> int:
    """Bytes of the distinct non-parameter storages the forward keeps for backward."""
    params = {p.untyped_storage().data_ptr() for p in layer.parameters()}
    storages: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        if t.untyped_storage().data_ptr() not in params:
            storages[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        layer(x)
    return sum(storages.values())


def _train_step(layer: nn.Module, x: torch.Tensor, grad: torch.Tensor) -> None:
    torch.autograd.grad(layer(x), [x, *layer.parameters()], grad)


def copy_bandwidth(device: str, nbytes: int, rounds: int) -> float:
    """Bytes per second of ``dst.copy_(src)`` (read + write), median of ``rounds``."""
    src = torch.empty(nbytes // 4, device=device).normal_()
    dst = torch.empty_like(src)
    times = rotated_rounds({"copy": {"copy": partial(dst.copy_, src)}}, device, 2, rounds)
    return 2 * src.nbytes / median(getattr(times["copy"]["copy"], judged(device)))


def measure(shape: tuple[int, ...], dtype: torch.dtype, args) -> dict[str, dict]:
    """Per candidate: step times (s), same-round ratios to GN+ReLU, saved bytes."""
    torch.manual_seed(0)
    x = torch.randn(shape, device=args.device, dtype=dtype, requires_grad=True)
    grad = torch.randn(shape, device=args.device, dtype=dtype)
    layers = build_candidates(shape[1], len(shape) == 2, args.device, dtype)
    steps = {
        name: {
            "train": partial(_train_step, layer, x, grad),
            "fwd": partial(torch.no_grad()(layer), x),
        }
        for name, layer in layers.items()
    }
    stats = compare(
        rotated_rounds(steps, args.device, args.warmup, args.rounds), BASELINE, args.device
    )
    results = {name: {"saved": saved_bytes(layer, x)} for name, layer in layers.items()}
    for name, r in results.items():
        for step in PASSES:
            r[step], r[f"{step}_ratio"] = stats[name][step]["median"], stats[name][step]["ratio"]
        r["saved_ratio"] = r["saved"] / results[BASELINE]["saved"]
    return results


def gbps(step: str, numel: int, dtype: torch.dtype, seconds: float) -> float:
    """Achieved GB/s of ``step`` ('fwd' or 'train') under the byte model."""
    return PASSES[step] * numel * dtype.itemsize / seconds / 1e9


def table_rows(label, dtype_name, shape, results, copy_bps) -> list[list[str]]:
    numel, dtype, rows = torch.Size(shape).numel(), DTYPES[dtype_name], []
    for name, r in results.items():
        row = [label, dtype_name, name]
        for step in ("fwd", "train"):
            rate = gbps(step, numel, dtype, r[step])
            row += [f"{r[step] * 1e3:.3f}", f"{r[f'{step}_ratio']:.2f}", f"{rate:.3g}"]
            row.append(f"{100 * rate * 1e9 / copy_bps:.0f} %")
        rows.append([*row, f"{r['saved'] / 2**20:.1f}", f"{r['saved_ratio']:.2f}"])
    return rows


def checks(device: str, all_results: dict, shapes: dict, copy_bps: float) -> list[Check]:
    """The targets of the module docstring, per shape and dtype measured."""
    found = []
    for (label, dtype_name), results in all_results.items():
        evo, shape, name = results[EVONORM], shapes[label], f"{label} {dtype_name}"
        if device == "cpu" and len(shape) == 2:  # the CPU targets are for the 4-D shapes
            continue
        for key, limit, what in (
            ("train", MAX_TRAIN_RATIO, "EvoNormS0 fwd+bwd"),
            ("saved", MAX_SAVED_RATIO, "saved memory"),
        ):
            ratio = round(evo[f"{key}_ratio"], 2)
            found.append(
                Check(f"{name}: {what} <= {limit}x GN+ReLU", ratio, limit, f"{ratio:.2f}x")
            )
        if device == "cuda" and label.startswith("FPN P3") and dtype_name == "bf16":
            rate = gbps("train", torch.Size(shape).numel(), torch.bfloat16, evo["train"]) * 1e9
            share = round(100 * rate / copy_bps)
            target = f"{name}: EvoNormS0 fwd+bwd >= {MIN_COPY_SHARE} % of copy bandwidth"
            found.append(Check(target, share, MIN_COPY_SHARE, f"{share} %", at_least=True))
    return found


def run(args: argparse.Namespace) -> Report:
    """Measure every shape and dtype; the report with its tables."""
    load, start = LoadMeter(), time.perf_counter()
    kernels = evonorm_cpu_kernel.load_kernels() if args.device == "cpu" else None
    build_s, build = time.perf_counter() - start, evonorm_cpu_kernel.last_build
    copy_bps = copy_bandwidth(args.device, args.copy_mib * 2**20, args.rounds)
    all_results, rows = {}, []
    for label, shape in args.shapes.items():
        for dtype_name in args.dtypes:
            results = all_results[(label, dtype_name)] = measure(shape, DTYPES[dtype_name], args)
            rows += table_rows(label, dtype_name, shape, results, copy_bps)
    lines = [
        f"- Machine: {machine_description(args.device)}.",
        f"- Timing: {clock_label(args.device)}, median of {args.rounds} rounds after "
        f"{args.warmup} warm-up rounds; ratios are medians of same-round ratios.",
        f"- Copy bandwidth (the ceiling): {copy_bps / 1e9:.1f} GB/s ({args.copy_mib} MiB).",
        f"- Byte model: {BYTE_MODEL}",
        f"- Load: {load.summary()}",
    ]
    if args.device == "cpu":
        built = f"built in {build_s:.2f} s" if kernels else "unavailable"
        lines.append(f"- EvoNormS0 C kernels: {built}; {build.describe() if build else ''}")
    main = Table(HEADER, rows, "lll" + "r" * 10)
    found = checks(args.device, all_results, args.shapes, copy_bps)
    text = "\n".join([*lines, "", main.markdown(), "", checks_table(found).markdown()])
    figures = dict(
        machine=machine_description(args.device),
        copy_gbps=copy_bps / 1e9,
        results={f"{label} {dtype}": r for (label, dtype), r in all_results.items()},
    )
    return Report(text, main, figures, found)
