"""Hook that re-estimates BN population statistics (Precise BN) of a detector's heads."""

from __future__ import annotations

from mmdet.registry import HOOKS
from mmengine.hooks import Hook

from ..precise_bn import DEFAULT_SCOPE, update_bn_stats

DATA_BATCH = dict | tuple | list | None


@HOOKS.register_module()
class PreciseBNHook(Hook):
    """Precise BN (:mod:`mmdet_evonorm.engine.precise_bn`) after the last iteration.

    The statistics are those of ``num_batches`` fresh batches of the runner's
    training loader, in loss mode, averaged over ranks. With ``interval`` set it
    also runs every ``interval`` iterations, before that iteration's validation
    and checkpoint (priority ``ABOVE_NORMAL``, ahead of ``CheckpointHook``), so the
    saved checkpoints and the validated model carry the re-estimated statistics.

    Gaps of mmpretrain's ``PreciseBNHook`` (``mmpretrain/engine/hooks/precise_bn_hook.py``,
    1.x) for mmdet detectors, which this hook closes:

    * it calls ``model(**data)`` in ``tensor`` mode, where a two-stage detector's RoI
      heads see test-style proposals instead of the sampled training RoIs;
    * it reads ``dataloader.batch_size`` to count images, which is None under
      mmdet's ``AspectRatioBatchSampler`` (a batch sampler sets the batch size);
    * it updates every BN layer of the model, with no way to choose the heads.

    Args:
        num_batches: K, training batches read per estimate (the whole loader when
            it is shorter, said in the log).
        scope: dotted name of the module whose training-mode BN layers are updated;
            default the RoI heads.
        interval: also run every ``interval`` iterations (None: only at the end).

    Usage::

        custom_hooks = [dict(type='PreciseBNHook', num_batches=200)]
    """

    priority = "ABOVE_NORMAL"

    def __init__(
        self, num_batches: int = 200, scope: str | None = DEFAULT_SCOPE, interval: int | None = None
    ) -> None:
        if num_batches < 1:
            raise ValueError(f"PreciseBNHook: num_batches must be >= 1, got {num_batches}")
        if interval is not None and interval < 1:
            raise ValueError(f"PreciseBNHook: interval must be >= 1 or None, got {interval}")
        self.num_batches = num_batches
        self.scope = scope
        self.interval = interval

    def after_train_iter(
        self, runner, batch_idx: int, data_batch: DATA_BATCH = None, outputs: dict | None = None
    ) -> None:
        """Run at the last iteration, and every ``interval`` iterations if set."""
        due = self.interval is not None and self.every_n_train_iters(runner, self.interval)
        if due or self.is_last_train_iter(runner):
            update_bn_stats(
                runner.model,
                runner.train_dataloader,
                self.num_batches,
                self.scope,
                log=runner.logger.info,
            )
