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
    """Wrap the forward of every :data:`COMPONENTS` module and every norm layer
    in a profiler label (``module:<name>``, ``norm:<class>``)."""
    from mmengine.utils.dl_utils.parrots_wrapper import _BatchNorm

    from mmdet_evonorm.models.layers import EvoNormS0

    norms = (_BatchNorm, nn.GroupNorm, EvoNormS0)
    handles, stack = [], []

    def enter(label, _module, _args):
        stack.append(torch.profiler.record_function(label))
        stack[-1].__enter__()

    def leave(_module, _args, _output):
        stack.pop().__exit__(None, None, None)

    for name, module in model.named_modules():
        label = f"module:{name}" if name in COMPONENTS else None
        if isinstance(module, norms):
            label = f"norm:{type(module).__name__}"
        if label:
            handles.append(module.register_forward_pre_hook(partial(enter, label)))
            handles.append(module.register_forward_hook(leave))
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def profile_steps(
    bench: ModelBench, top: int = 12, steps: tuple[str, ...] = STEPS
) -> dict[str, str]:
    """torch.profiler tables of one train step and one inference pass.

    Per step: the forward time of each component and norm type (``module:*``,
    ``norm:*``; inclusive, forward only) and the ``top`` operators by self time
    (forward and backward), each as a share of the step's wall time. Run a warm-up
    step first. Returns ``{step: markdown}`` for each of ``steps``.
    """
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU]
    if bench.device.type == "cuda":
        activities.append(ProfilerActivity.CUDA)
    tables = {}
    for step, fn in bench.steps(steps).items():
        with _labelled(bench.model), profile(activities=activities) as prof:
            wall = time_call(fn, bench.device)[0].wall
        tables[step] = _profile_table(prof.key_averages(), wall, top)
    return tables


def _profile_table(averages, wall: float, top: int) -> str:
    def row(e, name: str, us: float) -> list:
        return [f"`{e.key}` ({name})", e.count, f"{us / 1e3:.0f} ms", f"{us / 1e4 / wall:.1f} %"]

    labels = sorted(
        (e for e in averages if e.key.startswith(LABELS)), key=lambda e: -e.cpu_time_total
    )
    ops = sorted(
        (e for e in averages if not e.key.startswith(LABELS)), key=lambda e: -e.self_cpu_time_total
    )
    rows = [row(e, "forward, inclusive", e.cpu_time_total) for e in labels]
    rows += [row(e, "self", e.self_cpu_time_total) for e in ops[:top]]
    table = Table(("label / operator", "calls", "time", "share of step"), rows, "lrrr")
    return f"step wall time {wall * 1e3:.0f} ms (with profiler)\n\n{table.markdown()}"
