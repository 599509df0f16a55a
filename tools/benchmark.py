"""Cost of one detector config: params, FLOPs, train-step and inference time, peak memory.

Builds the config's model with random weights (no pretrained backbone is loaded) and
times ``model.train_step`` (lr 0) and ``model.test_step`` on a fixed random batch:
``--warmup`` untimed iterations, then the medians of ``--iters`` timed ones, as wall
clock and as CPU time of the process (the steadier figure on a shared CPU; use
``--threads 1`` there). FLOPs: mmengine's ``FlopAnalyzer`` on mmdet's ``tensor``
forward of one ``--flops-input`` image (default 576x768, the recipe's test scale) at
the config's own RoI counts, or PyTorch's ``FlopCounterMode`` where tracing fails
(the output says which). Peak memory: tensor bytes allocated during one step above those live before
it (torch.profiler memory events on CPU, ``torch.cuda.max_memory_allocated`` on
CUDA). The per-image RoI counts follow the input size (``--roi-scale``) and the test
score threshold is 0 (``--score-thr``); see ``mmdet_evonorm/analysis/benchmark.py``.

Examples::

    python tools/benchmark.py configs/mask_rcnn_fpn3_evonorm.py
    python tools/benchmark.py configs/mask_rcnn_fpn3_sephv2_evonorm_cosine.py --profile
    python tools/benchmark.py configs/mask_rcnn_fpn3_evonorm.py --device cuda --amp \\
        --input 800x1333 --batch 8 --iters 20
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys

from mmengine.config import DictAction
from mmengine.logging import MMLogger

from mmdet_evonorm.analysis.benchmark import (
    ModelBench,
    add_input_args,
    fmt_bytes,
    fmt_count,
    input_from_args,
    load_config,
    machine_description,
    model_flops,
    profile_steps,
    summarize,
    time_interleaved,
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("config", help="config file")
    add_input_args(parser)
    parser.add_argument("--iters", type=int, default=5, help="timed iterations")
    parser.add_argument(
        "--profile", action="store_true", help="also print torch.profiler top costs"
    )
    parser.add_argument("--cfg-options", nargs="+", action=DictAction, help="key=value overrides")
    args = parser.parse_args(argv)
    if not os.path.isfile(args.config):
        parser.error(f"{args.config}: no such config file")
    if args.iters < 1:
        parser.error("--iters must be >= 1")
    args.inp = input_from_args(parser, args)
    return args


def timing(times: dict[str, list[float]], step: str, per: int, args) -> str:
    """'<wall> ms wall, <cpu> ms CPU (...)' of ``step``, divided by ``per``."""
    wall, cpu = (summarize([t * 1e3 / per for t in times[k]]) for k in (step, f"{step}_cpu"))
    return (
        f"{wall['median']:.1f} ms wall, {cpu['median']:.1f} ms CPU (medians of {args.iters} "
        f"after {args.warmup} warm-up; min wall {wall['min']:.1f} ms)"
    )


def report(bench: ModelBench, args: argparse.Namespace) -> list[str]:
    inp = args.inp
    flops_hw = "x".join(map(str, args.flops_input))
    flops, method = model_flops(bench.cfg, *args.flops_input, args.device)
    times = time_interleaved({"model": bench}, args.warmup, args.iters)["model"]
    images_per_s = inp.num_images / statistics.median(times["train"])
    return [
        f"config: {args.config}",
        f"machine: {machine_description(bench.device)}",
        f"device: {bench.device.type}{' + AMP (float16)' if bench.amp else ''}",
        f"input: {inp.describe()}",
        f"params: {fmt_count(bench.num_params)}",
        f"flops: {fmt_count(flops)} per {flops_hw} image at the config's RoI counts, "
        f"1 per multiply-add ({method})",
        f"train step: {timing(times, 'train', 1, args)}, {images_per_s:.2f} images/s",
        f"inference: {timing(times, 'infer', inp.num_images, args)} per image",
        f"detections per image: {bench.detections_per_image:.1f}",
        f"peak memory train step: {fmt_bytes(bench.peak_memory('train'))}",
        f"peak memory inference: {fmt_bytes(bench.peak_memory('infer'))}",
    ]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    MMLogger.get_instance("mmengine", log_level="WARNING")  # quiet init-weights logs
    inp = args.inp
    bench = ModelBench(load_config(args.config, args.cfg_options), inp, args.device, args.amp)
    print("\n".join(report(bench, args)), flush=True)
    if args.profile:
        for step, table in profile_steps(bench).items():
            print(f"\n### torch.profiler: {step}\n\n{table}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
