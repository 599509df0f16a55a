"""OptimWrapper that never applies an update whose loss or gradient norm is not finite."""

from __future__ import annotations

from contextlib import contextmanager

import torch
from mmdet.registry import OPTIM_WRAPPERS
from mmengine.dist import all_reduce
from mmengine.optim import OptimWrapper
from torch import Tensor, nn


@OPTIM_WRAPPERS.register_module()
class NonFiniteGuardOptimWrapper(OptimWrapper):
    """``OptimWrapper`` that withholds updates with a non-finite loss or gradient norm.

    Gap in mmengine 0.10.7: ``OptimWrapper.update_params`` steps whatever the
    gradients hold (``clip_grad_norm_`` turns one inf gradient into NaN weights),
    and hooks run only around the whole ``train_step``, too late to keep a bad
    update out. Here, once the gradients of an update are complete::

        loss -> backward -> [update due?] -> total grad 2-norm
             -> all_reduce(mean) of (loss, norm) over ranks
             -> both finite: clip + optimizer.step   (as OptimWrapper)
                otherwise:   drop the gradients, restore the model buffers
                             (BN running stats) of before the forward pass,
                             record ``rejected`` = {'loss', 'grad_norm'}

    The decision is taken on values reduced over all ranks, so every rank skips
    the same updates and replicas stay identical. Skipping leaves parameters,
    optimizer state (momentum) and buffers exactly as they were; the iteration
    (and the LR schedule) still advances. :class:`~..hooks.NonFiniteGuardHook`
    reads ``rejected`` after each iteration to stop training or count the skip.

    Arguments are ``OptimWrapper``'s; use
    ``optim_wrapper = dict(type='NonFiniteGuardOptimWrapper', optimizer=..., ...)``
    (``tools/train.py`` swaps a plain ``OptimWrapper`` for it).
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.rejected: dict | None = None
        self._buffers: list[tuple[Tensor, Tensor]] = []

    @contextmanager
    def optim_context(self, model: nn.Module):
        """Snapshot the buffers at the start of an update (before any forward pass)."""
        if self._inner_count % self._accumulative_counts == 0:
            self._buffers = [(buffer, buffer.detach().clone()) for buffer in model.buffers()]
        with super().optim_context(model):
            yield

    def update_params(
        self, loss: Tensor, step_kwargs: dict | None = None, zero_kwargs: dict | None = None
    ) -> None:
        self.rejected = None
        self.backward(self.scale_loss(loss))
        if not self.should_update():
            return
        loss_and_norm = torch.stack([loss.detach().float(), self._grad_norm().to(loss.device)])
        all_reduce(loss_and_norm, op="mean")
        if torch.isfinite(loss_and_norm).all():
            self.step(**(step_kwargs or {}))
        else:
            self.rejected = dict(loss=loss_and_norm[0].item(), grad_norm=loss_and_norm[1].item())
            for buffer, saved in self._buffers:
                buffer.copy_(saved)
        self.zero_grad(**(zero_kwargs or {}))

    def _grad_norm(self) -> Tensor:
        """Total 2-norm of all gradients (inf/NaN if any entry is)."""
        grads = [
            param.grad.detach()
            for group in self.optimizer.param_groups
            for param in group["params"]
            if param.grad is not None
        ]
        if not grads:
            return torch.zeros((), dtype=torch.float32)
        return torch.linalg.vector_norm(
            torch.stack([torch.linalg.vector_norm(grad.float()) for grad in grads])
        )
