"""Hook that stops training (or skips a few updates) at a non-finite loss or gradient norm."""

from __future__ import annotations

import math

import torch
from mmdet.registry import HOOKS
from mmengine.hooks import Hook

from ..optim_wrappers import NonFiniteGuardOptimWrapper

SKIPS_KEY = "non_finite_skips"


class NonFiniteLossError(RuntimeError):
    """Training met a non-finite loss or gradient norm (the message is one line)."""


@HOOKS.register_module()
class NonFiniteGuardHook(Hook):
    """Stop at the first non-finite loss or gradient norm, or skip up to ``max_skips`` updates.

    After every iteration it reads the update that
    :class:`~..optim_wrappers.NonFiniteGuardOptimWrapper` withheld (loss or grad
    norm not finite on some rank) and the loss terms of this rank's outputs::

        iteration k: update withheld?  no  -> carry on
                                       yes -> skips <= max_skips ? warn, carry on
                                                                 : raise NonFiniteLossError

    The error names the iteration (1-based, as the log), the non-finite loss
    terms and the grad norm. Priority ``BELOW_NORMAL``, registered after the
    logger: the logger still prints iteration k, then the raise comes before
    ``ParamSchedulerHook`` and the checkpoint hook, so nothing is saved after a
    bad iteration and the newest checkpoint stays the last good one. The skip
    count lives in the message hub, so it is checkpointed and resumed.

    With a plain ``OptimWrapper`` (or ``AmpOptimWrapper``, whose GradScaler
    handles overflowing gradients itself) only the loss terms are checked, the
    bad update has already been applied in memory, and ``max_skips`` must be 0.

    Args:
        max_skips (int): Bad iterations to skip (update withheld) before
            stopping. Default: 0, stop at the first one.
    """

    priority = "BELOW_NORMAL"

    def __init__(self, max_skips: int = 0) -> None:
        if max_skips < 0:
            raise ValueError(f"NonFiniteGuardHook: max_skips must be >= 0, got {max_skips}")
        self.max_skips = max_skips

    def before_train(self, runner) -> None:
        if self.max_skips and not isinstance(runner.optim_wrapper, NonFiniteGuardOptimWrapper):
            raise ValueError(
                f"NonFiniteGuardHook(max_skips={self.max_skips}) needs "
                "optim_wrapper.type='NonFiniteGuardOptimWrapper' (it alone can withhold an "
                f"update), got {type(runner.optim_wrapper).__name__}"
            )

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        terms = {
            key: float(torch.as_tensor(value).detach()) for key, value in (outputs or {}).items()
        }
        bad_terms = {k: v for k, v in terms.items() if "loss" in k and not math.isfinite(v)}
        if len(bad_terms) > 1:  # name the terms, not their sum
            bad_terms.pop("loss", None)
        guarded = isinstance(runner.optim_wrapper, NonFiniteGuardOptimWrapper)
        rejected = runner.optim_wrapper.rejected if guarded else None
        if (rejected is None) if guarded else not bad_terms:
            return
        what = self._describe(runner.iter + 1, bad_terms, rejected)
        skips = runner.message_hub.get_info(SKIPS_KEY, 0) + 1
        if guarded and skips <= self.max_skips:
            runner.message_hub.update_info(SKIPS_KEY, skips)
            runner.logger.warning(f"{what}; update skipped ({skips} of max_skips={self.max_skips})")
            return
        applied = "withheld" if guarded else "already applied in memory"
        limit = f"max_skips={self.max_skips} used up; " if self.max_skips else ""
        last = runner.message_hub.get_info("last_ckpt") or "none saved yet"
        raise NonFiniteLossError(
            f"{what}; training stopped ({limit}this update was {applied}, nothing saved after "
            f"it; newest checkpoint: {last}). Lower the learning rate or check the data, then "
            "continue with --resume"
        )

    @staticmethod
    def _describe(iteration: int, bad_terms: dict, rejected: dict | None) -> str:
        """``iteration k: non-finite loss_mask=nan, grad norm=nan`` (only what is not finite)."""
        parts = [f"{key}={value}" for key, value in bad_terms.items()]
        if rejected and not parts and not math.isfinite(rejected["loss"]):
            parts.append(f"loss={rejected['loss']} (mean over ranks; finite on this one)")
        if rejected and not math.isfinite(rejected["grad_norm"]):
            parts.append(f"grad norm={rejected['grad_norm']}")
        return f"iteration {iteration}: non-finite {', '.join(parts)}"
