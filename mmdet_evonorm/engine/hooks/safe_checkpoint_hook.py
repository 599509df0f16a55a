"""Hook that makes every checkpoint the runner writes load with ``weights_only=True``."""

from __future__ import annotations

from mmdet.registry import HOOKS
from mmengine.hooks import Hook

from ..safe_checkpoint import decode_checkpoint, encode_checkpoint


@HOOKS.register_module()
class SafeCheckpointHook(Hook):
    """Store checkpoints in a form the weights-only unpickler of torch >= 2.6 accepts.

    Gap in mmengine 0.10.7: ``Runner.save_checkpoint`` pickles the message hub's
    ``HistoryBuffer`` objects and NumPy values, which ``torch.load`` refuses by
    default since torch 2.6 (open-mmlab/mmengine#1655). ``before_save_checkpoint``
    rewrites them into tagged tensors/dicts (see
    :mod:`mmdet_evonorm.engine.safe_checkpoint`); ``after_load_checkpoint``, which
    ``Runner.load_checkpoint`` calls before ``Runner.resume`` reads the message hub,
    rebuilds them. The hook runs last (``LOWEST``) so it also sees what other hooks
    add to the checkpoint.

    Usage: ``custom_hooks = [dict(type='SafeCheckpointHook')]`` (``tools/train.py``
    and ``tools/test.py`` add it when a config lacks it).
    """

    priority = "LOWEST"

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        encode_checkpoint(checkpoint)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        decode_checkpoint(checkpoint)
