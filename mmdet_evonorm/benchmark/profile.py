"""torch.profiler tables of a detector's steps: components, norm layers, top operators."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial

import torch
from torch import nn

from .detector import STEPS, ModelBench
from .report import Table
from .timing import time_call

#: Modules timed as one block (dotted names in the detector).
COMPONENTS = (
    "backbone", "neck", "rpn_head", "roi_head.bbox_roi_extractor", "roi_head.shared_head",
    "roi_head.bbox_head", "roi_head.mask_roi_extractor", "roi_head.mask_head",
)  # fmt: skip
LABELS = ("module:", "norm:")


@contextmanager
def _labelled(model: nn.Module) -> Iterator[None]:
    """Wrap the forward of every :data:`COMPONENTS` module and every norm layer in a
    profiler label (``module:<name>``, ``norm:<class>``)."""
    from mmengine.utils.dl_utils.parrots_wrapper import _BatchNorm

    from mmdet_evonorm.models.layers import EvoNormS0

    handles, stack = [], []

    def enter(label, _module, _args):
        stack.append(torch.profiler.record_function(label))
        stack[-1].__enter__()

    def leave(_module, _args, _output):
        stack.pop().__exit__(None, None, None)

    for name, module in model.named_modules():
        label = f"module:{name}" if name in COMPONENTS else None
        if isinstance(module, (_BatchNorm, nn.GroupNorm, EvoNormS0)):
            label = f"norm:{type(module).__name__}"
        if label:
            handles += [module.register_forward_pre_hook(partial(enter, label))]
            handles += [module.register_forward_hook(leave)]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def profile_steps(
    bench: ModelBench, top: int = 12, steps: tuple[str, ...] = STEPS
) -> dict[str, str]:
    """``{step: markdown}`` for each of ``steps``: the forward time of each component and
    norm type (``module:*``, ``norm:*``; inclusive) and the ``top`` operators by self time
    (forward and backward), each as a share of the step's wall time. Warm up first."""
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU] + [ProfilerActivity.CUDA] * (bench.device.type == "cuda")
    tables = {}
    for step, fn in bench.steps(steps).items():
        with _labelled(bench.model), profile(activities=activities) as prof:
            wall = time_call(fn, bench.device).wall
        events = prof.key_averages()
        labels = [
            (e, "forward, inclusive", e.cpu_time_total) for e in events if e.key.startswith(LABELS)
        ]
        ops = [(e, "self", e.self_cpu_time_total) for e in events if not e.key.startswith(LABELS)]
        rows = sorted(labels, key=lambda r: -r[2]) + sorted(ops, key=lambda r: -r[2])[:top]
        cells = [
            [f"`{e.key}` ({kind})", e.count, f"{us / 1e3:.0f} ms", f"{us / 1e4 / wall:.1f} %"]
            for e, kind, us in rows
        ]
        table = Table(("label / operator", "calls", "time", "share of step"), cells, "lrrr")
        tables[step] = f"step wall time {wall * 1e3:.0f} ms (with profiler)\n\n{table.markdown()}"
    return tables
