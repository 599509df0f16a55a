"""Benchmark EvoNormS0 against BN+ReLU, GN+ReLU and timm's EvoNorm2dS0.

For an FPN map (2x256x100x152), a RoI batch (512x256x7x7) and the 2-D FC case
(512x1024), on CPU and on CUDA when present, it prints a Markdown table of

* the median forward + backward time over ``--repeats`` runs after
  ``--warmup`` runs (the candidates run interleaved, in a rotating order, so
  that load from other processes affects all of them alike),
* the median forward time without autograd (inference),
* the bytes the forward saves for backward (unique storages seen by
  ``torch.autograd.graph.saved_tensors_hooks``, parameters excluded),

each also as a ratio to GN+ReLU. On CPU it adds EvoNormS0 forced onto its
PyTorch path (what runs when the C kernels cannot be built, and on CUDA).

Usage::

    python tools/benchmark_norm.py [--repeats 30] [--warmup 5] [--device cpu] [--threads 1]
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time
from pathlib import Path
from typing import Callable, Dict, List, Tuple
from unittest import mock

import torch
from torch import nn

from mmdet_evonorm.models.layers import EvoNormS0, evonorm_cpu_kernel
from mmdet_evonorm.models.layers.timm_reference import load_timm_evonorm2d_s0

SHAPES = {
    "FPN map 2x256x100x152": (2, 256, 100, 152),
    "RoI batch 512x256x7x7": (512, 256, 7, 7),
    "FC 512x1024 (2-D)": (512, 1024),
}
BASELINE = "GN+ReLU"
TORCH_PATH = "EvoNormS0, PyTorch path"


class _As4d(nn.Module):
    """Feed a 4-D-only layer a 2-D [N, C] input as [N, C, 1, 1]."""

    def __init__(self, layer: nn.Module) -> None:
        super().__init__()
        self.layer = layer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer(x[..., None, None]).flatten(1) if x.dim() == 2 else self.layer(x)


def build_candidates(channels: int, two_d: bool, device: str) -> Dict[str, nn.Module]:
    """The layers to compare, in train mode, on ``device``."""
    bn = nn.BatchNorm1d if two_d else nn.BatchNorm2d
    layers = {
        "BN+ReLU": nn.Sequential(bn(channels), nn.ReLU(inplace=True)),
        BASELINE: nn.Sequential(nn.GroupNorm(32, channels), nn.ReLU(inplace=True)),
        "EvoNormS0": EvoNormS0(channels),
    }
    if device == "cpu":
        layers[TORCH_PATH] = EvoNormS0(channels)
    timm_cls = load_timm_evonorm2d_s0()
    if timm_cls is not None:
        layers["timm EvoNorm2dS0"] = _As4d(timm_cls(channels))
    return {name: layer.to(device).train() for name, layer in layers.items()}


def path_context(name: str) -> contextlib.AbstractContextManager:
    """Force the PyTorch path for the TORCH_PATH candidate."""
    if name != TORCH_PATH:
        return contextlib.nullcontext()
    return mock.patch.object(evonorm_cpu_kernel, "supports", return_value=False)


def saved_bytes(layer: nn.Module, x: torch.Tensor, name: str) -> int:
    """Bytes of the distinct non-parameter storages the forward keeps for backward."""
    params = {p.untyped_storage().data_ptr() for p in layer.parameters()}
    storages: Dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        if storage.data_ptr() not in params:
            storages[storage.data_ptr()] = storage.nbytes()
        return t

    with path_context(name), torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        layer(x)
    return sum(storages.values())


def timed(fn: Callable[[], object], device: str) -> float:
    """Seconds one call of ``fn`` takes (CUDA synchronised)."""
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    sync()
    start = time.perf_counter()
    fn()
    sync()
    return time.perf_counter() - start


def measure(
    layers: Dict[str, nn.Module], shape: Tuple[int, ...], device: str, args
) -> Dict[str, Dict[str, float]]:
    """Median fwd+bwd and fwd-only seconds and saved bytes per candidate."""
    torch.manual_seed(0)
    x = torch.randn(shape, device=device, requires_grad=True)
    grad = torch.randn(shape, device=device)
    names = list(layers)
    times: Dict[str, Dict[str, List[float]]] = {n: {"train": [], "infer": []} for n in names}

    def train_step(name: str) -> None:
        layer = layers[name]
        with path_context(name):
            torch.autograd.grad(layer(x), [x, *layer.parameters()], grad)

    def infer_step(name: str) -> None:
        with path_context(name), torch.no_grad():
            layers[name](x)

    for rep in range(args.warmup + args.repeats):
        order = names[rep % len(names) :] + names[: rep % len(names)]
        for name in order:
            train = timed(lambda n=name: train_step(n), device)
            infer = timed(lambda n=name: infer_step(n), device)
            if rep >= args.warmup:
                times[name]["train"].append(train)
                times[name]["infer"].append(infer)
    return {
        n: {
            "train": statistics.median(times[n]["train"]),
            "infer": statistics.median(times[n]["infer"]),
            "saved": saved_bytes(layers[n], x, n),
        }
        for n in names
    }


def table(device: str, args) -> str:
    """Markdown table of all shapes on ``device``."""
    rows = [
        "| shape | layer | fwd+bwd ms | x GN+ReLU | fwd ms (no grad) | x GN+ReLU "
        "| saved MiB | x GN+ReLU |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for label, shape in SHAPES.items():
        layers = build_candidates(shape[1], len(shape) == 2, device)
        result = measure(layers, shape, device, args)
        base = result[BASELINE]
        for name, r in result.items():
            rows.append(
                f"| {label} | {name} | {r['train'] * 1e3:.1f} | "
                f"{r['train'] / base['train']:.2f} | {r['infer'] * 1e3:.1f} | "
                f"{r['infer'] / base['infer']:.2f} | {r['saved'] / 2**20:.1f} | "
                f"{r['saved'] / base['saved']:.2f} |"
            )
    return "\n".join(rows)


def machine(device: str) -> str:
    """One line naming the processor (or GPU), thread count and torch version."""
    if device == "cuda":
        name = torch.cuda.get_device_name()
    else:
        cpuinfo = Path("/proc/cpuinfo")
        lines = cpuinfo.read_text().splitlines() if cpuinfo.exists() else []
        models = [ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("model name")]
        name = models[0] if models else "unknown CPU"
    return f"{device}: {name}, torch {torch.__version__}, {torch.get_num_threads()} threads"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30, help="timed runs per layer")
    parser.add_argument("--warmup", type=int, default=5, help="untimed runs first")
    parser.add_argument(
        "--device",
        action="append",
        choices=["cpu", "cuda"],
        help="device(s) to run on (default: cpu, plus cuda when available)",
    )
    parser.add_argument("--threads", type=int, help="torch.set_num_threads (default: as is)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    devices = args.device or ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    start = time.perf_counter()
    kernels = evonorm_cpu_kernel.load_kernels()
    print(
        f"EvoNormS0 CPU kernels: "
        f"{'built in %.2f s' % (time.perf_counter() - start) if kernels else 'unavailable'}"
    )
    if load_timm_evonorm2d_s0() is None:
        print("timm not installed: its EvoNorm2dS0 is left out")
    for device in devices:
        print(f"\n{machine(device)}; median of {args.repeats} after {args.warmup} warm-up\n")
        print(table(device, args))


if __name__ == "__main__":
    main()
