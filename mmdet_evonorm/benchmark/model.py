"""Cost of one detector config: params, FLOPs, train-step and inference time, peak memory.

Times ``model.train_step`` (lr 0) and ``model.test_step`` of the config's model with
random weights (:class:`~.detector.ModelBench`) on a fixed random batch, one of each per
round: medians as wall clock (CUDA events on a GPU) and CPU time of the process (the
steadier figure on a shared CPU; use ``--threads 1`` there). FLOPs: one ``--flops-input``
image, 1 per multiply-add. Peak memory: tensor bytes allocated during one step (after
the warm-up) above those live before it.
"""

from __future__ import annotations

import argparse
import os

from .detector import ModelBench, add_input_arguments, input_from_args, load_config
from .machine import machine_description
from .profile import profile_steps
from .report import Report, Table
from .timing import Series, median, rotated_rounds

TOOL = "tools/benchmark.py"
DEFAULTS = dict(warmup=2, rounds=5)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from mmengine.config import DictAction

    parser.add_argument("config", help="config file")
    add_input_arguments(parser)
    parser.add_argument("--profile", action="store_true", help="also print torch.profiler tables")
    parser.add_argument("--cfg-options", nargs="+", action=DictAction, help="key=value overrides")


def check_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if not os.path.isfile(args.config):
        parser.error(f"{args.config}: no such config file")
    args.inp = input_from_args(parser, args)


def timing(series: Series, per: int, args: argparse.Namespace) -> str:
    """'<wall> ms wall, <cpu> ms CPU (...)' of one step's times, divided by ``per``."""
    wall, cpu = ([t * 1e3 / per for t in times] for times in series)
    name = "GPU" if args.device == "cuda" else "wall"
    return (
        f"{median(wall):.1f} ms {name}, {median(cpu):.1f} ms CPU (medians of {args.rounds} "
        f"after {args.warmup} warm-up; min {name} {min(wall):.1f} ms)"
    )


def _count(count: float) -> str:
    return f"{count / 1e9:.2f} G" if count >= 1e9 else f"{count / 1e6:.2f} M"


def run(args: argparse.Namespace) -> Report:
    inp = args.inp
    bench = ModelBench(load_config(args.config, args.cfg_options), inp, args.device, args.amp)
    cost = bench.cost(args.flops_input)
    times = rotated_rounds({"model": bench.steps()}, args.device, args.warmup, args.rounds)
    times, cost = times["model"], {**cost, **bench.peak_memory()}  # memory after warm-up
    flops_input = "x".join(map(str, args.flops_input))
    fields = {
        "config": args.config,
        "machine": machine_description(bench.device),
        "device": f"{bench.device.type}{' + AMP (float16)' if bench.amp else ''}",
        "input": inp.describe(),
        "params": _count(cost["params"]),
        "flops": f"{_count(cost['flops'])} per {flops_input} image at the config's RoI "
        f"counts, 1 per multiply-add ({cost['flops_method']})",
        "train step": f"{timing(times['train'], 1, args)}, "
        f"{inp.num_images / median(times['train'].wall):.2f} images/s",
        "inference": f"{timing(times['infer'], inp.num_images, args)} per image",
        "detections per image": f"{bench.detections_per_image:.1f}",
        "peak memory train step": f"{cost['mem_train'] / 2**20:.0f} MiB",
        "peak memory inference": f"{cost['mem_infer'] / 2**20:.0f} MiB",
    }
    lines = [f"{key}: {value}" for key, value in fields.items()]
    if args.profile:
        for step, table in profile_steps(bench).items():
            lines.append(f"\n### torch.profiler: {step}\n\n{table}")
    seconds = {step: series._asdict() for step, series in times.items()}
    table = Table(("figure", "value"), list(fields.items()), "ll")
    return Report("\n".join(lines), table, dict(fields, cost=cost, seconds=seconds))
