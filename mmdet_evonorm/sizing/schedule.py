"""``--cfg-options`` that change a row's length but keep the shape of its own schedule.

Every phase of ``param_scheduler`` (warm-up end, cosine begin/end, multistep
milestones) is scaled by the same ratio as ``train_cfg.max_iters``, so a multistep
row stays multistep with its milestones at the same fractions, and a cosine row keeps
its warm-up fraction. Validation and checkpointing happen once, at the end.
"""

from __future__ import annotations

from mmengine.config import Config


def schedule_options(cfg: Config, max_iters: int) -> dict:
    """``--cfg-options`` that shorten the run to ``max_iters``, LR phases scaled alike.

    Phase boundaries are scaled and rounded; a phase that began where another ended
    (a cosine after its warm-up) still begins where that one now ends. No phase
    collapses: each keeps at least 2 iterations where the run has room for them
    (mmengine's ``LinearLR`` over ``end - begin = 1`` applies its start factor and
    never ramps up: a 1-iteration warm-up would leave the LR at ``start_factor x lr``
    for the whole run), and every milestone stays at iteration 1 or later.
    """
    ratio = max_iters / cfg.train_cfg.max_iters
    options = {
        "train_cfg.max_iters": max_iters,
        "train_cfg.val_interval": max_iters,
        "default_hooks.checkpoint.interval": max_iters,
    }
    scaled_ends: dict[int, int] = {}
    for i, scheduler in enumerate(cfg.param_scheduler):
        begin = scheduler.get("begin", 0)
        begin = scaled_ends.get(begin, round(begin * ratio))
        options[f"param_scheduler.{i}.begin"] = begin
        if "end" in scheduler:
            shortest = 2 if begin + 2 < max_iters else 1  # unless the run is shorter
            end = max(round(scheduler.end * ratio), begin + shortest)
            options[f"param_scheduler.{i}.end"] = scaled_ends[scheduler.end] = end
        if "milestones" in scheduler:
            milestones = [max(round(m * ratio), 1) for m in scheduler.milestones]
            options[f"param_scheduler.{i}.milestones"] = milestones
    return options


def scaled_max_iters(cfg: Config, scale: float) -> int:
    """``--schedule scale``: the row's iterations times ``scale`` (0.1 of 120k = 12k)."""
    return max(round(cfg.train_cfg.max_iters * scale), 1)


def train_subset_options(cfg: Config, num_images: int) -> dict:
    """``--cfg-options`` training on the first ``num_images`` images of the train set.

    Uses mmengine's ``BaseDataset(indices=N)`` on the innermost dataset (through
    wrappers such as ``RepeatDataset``), so which images are used is fixed by the
    annotation file's order.
    """
    key, dataset = "train_dataloader.dataset", cfg.train_dataloader.dataset
    while "dataset" in dataset:
        key, dataset = f"{key}.dataset", dataset.dataset
    return {f"{key}.indices": num_images}
