"""Hook that makes a resumed run draw the same random numbers as an uninterrupted one."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from mmdet.registry import HOOKS
from mmengine.hooks import Hook
from mmengine.runner import IterBasedTrainLoop
from mmengine.runner.utils import set_random_seed


def batch_seed(run_seed: int, batch_index: int) -> int:
    """A 32-bit seed for one batch, well mixed from ``(run_seed, batch_index)``."""
    return int(np.random.SeedSequence([run_seed, batch_index]).generate_state(1)[0])


class _SeededBatches:
    """Reseed Python, NumPy and torch (all devices) before fetching each batch."""

    def __init__(self, batches: Iterator, run_seed: int) -> None:
        self._batches = batches
        self._run_seed = run_seed
        self._index = 0

    def __iter__(self):
        return self

    def __next__(self):
        set_random_seed(batch_seed(self._run_seed, self._index))
        self._index += 1
        return next(self._batches)


@HOOKS.register_module()
class IterationSeedHook(Hook):
    """Reseed the global RNGs before every training batch from ``(run seed, batch index)``.

    Gap in mmengine 0.10.7: the global RNGs are seeded once per run. A resumed
    run re-seeds them at start and ``IterBasedTrainLoop`` replays the data
    loader up to the checkpoint (it loads and drops the trained batches), so
    from the resume point on the RPN/RoI samplers (``torch.randperm``) and any
    augmentation run in the main process draw other numbers than the
    uninterrupted run did. With a seed per batch index, batch ``k`` and the
    training step that consumes it draw the same numbers in both runs::

        seed(k)   = SeedSequence([runner.seed, k])
        reseed(k) -> fetch batch k -> train step k -> (val) -> reseed(k+1) -> ...

    ``runner.seed`` already holds the rank offset when
    ``randomness.diff_rank_seed`` is set, and is restored from the checkpoint on
    resume. Data loader workers keep mmengine's per-worker seeds; the replay
    reproduces their streams. Only ``IterBasedTrainLoop`` is handled (the
    recipe's loop); with another loop the hook does nothing.

    Usage: ``default_hooks = dict(iteration_seed=dict(type='IterationSeedHook'))``
    (``tools/train.py`` adds it when a config lacks it).
    """

    priority = "VERY_HIGH"

    def before_train_epoch(self, runner) -> None:
        loop = runner.train_loop
        if not isinstance(loop, IterBasedTrainLoop):
            runner.logger.info(f"IterationSeedHook: {type(loop).__name__} left alone")
            return
        if not isinstance(loop.dataloader_iterator, _SeededBatches):
            loop.dataloader_iterator = _SeededBatches(loop.dataloader_iterator, runner.seed)
