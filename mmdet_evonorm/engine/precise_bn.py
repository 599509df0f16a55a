"""Precise BN for detectors: re-estimate BN population statistics over training batches.

During training a BN layer's running statistics are an exponential moving average
(EMA) of batch statistics taken while the weights move. After few updates, or with a
small momentum (TF's decay 0.997 is PyTorch's momentum 0.003), the EMA still holds
much of its initial value. Precise BN (Wu & Johnson, "Rethinking 'Batch' in
BatchNorm", arXiv 2105.07576, Sec. 3; fvcore ``fvcore/nn/precise_bn.py``) freezes the
weights and recomputes the statistics over K training batches::

    for each of K batches (loss mode, no grad, BN normalises with batch statistics):
        for each chosen BN layer, over its input x of shape [N, C, *]:
            n += N * prod(*)      s += sum(x)      q += sum(x * x)   (per channel, float64)
    all-reduce (n, s, q) over ranks
    running_mean = s / n      running_var = (q - n * mean^2) / (n - 1)   (unbiased, as PyTorch)

This is fvcore's population estimator (``_PopulationVarianceEstimator``): a cumulative
average with no momentum, and exactly the statistics of the concatenated inputs of all
batches, whatever their sizes. Only the chosen layers' ``running_mean`` and
``running_var`` change: every other buffer (other BN layers that ran in training mode,
``num_batches_tracked``), every weight and the RNG streams are restored bitwise.

Loss mode matters for RoI heads: their BN layers must see the sampled training RoIs
(``RandomSampler`` / ``GTDrawRandomSampler`` output) that training normalises, not the
test-time proposals that the ``tensor`` and ``predict`` modes produce.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from contextlib import ExitStack

import torch
from mmengine.dist import all_reduce
from mmengine.model import is_model_wrapper
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

from ..checks import BadInputError

#: The default modules: the RoI heads (box and mask heads) of a two-stage detector.
DEFAULT_SCOPE = "roi_head"


class NoBatchNormError(BadInputError):
    """The chosen modules hold no BN layer in training mode."""


def bn_layers(model: nn.Module, scope: str | None = DEFAULT_SCOPE) -> dict[str, _BatchNorm]:
    """The BN layers under ``model.<scope>`` (all of ``model`` for None) in training mode.

    Names are relative to ``model``, as in its state dict. Call ``model.train()``
    first: a frozen backbone (``norm_eval=True``) then keeps its BN layers in eval
    mode, and they are not chosen.
    """
    try:
        root = model.get_submodule(scope) if scope else model
    except AttributeError:
        raise NoBatchNormError(
            f"the model has no module {scope!r} (a RoI head); choose another --scope"
        ) from None
    prefix = f"{scope}." if scope else ""
    return {
        prefix + name: module
        for name, module in root.named_modules()
        if isinstance(module, _BatchNorm) and module.training and module.track_running_stats
    }


class _Moments:
    """Per-channel count, sum and sum of squares of one BN layer's inputs (float64)."""

    def __init__(self, channels: int, device: torch.device) -> None:
        self.count = torch.zeros((), dtype=torch.float64, device=device)
        self.sum = torch.zeros(channels, dtype=torch.float64, device=device)
        self.sq_sum = torch.zeros(channels, dtype=torch.float64, device=device)

    def add(self, module: nn.Module, inputs: tuple[Tensor, ...]) -> None:
        x = inputs[0].detach().double().transpose(0, 1).reshape(self.sum.numel(), -1)
        self.count += x.shape[1]
        self.sum += x.sum(1)
        self.sq_sum += (x * x).sum(1)

    def reduce(self) -> None:
        for tensor in (self.count, self.sum, self.sq_sum):
            all_reduce(tensor, op="sum")

    def mean_var(self) -> tuple[Tensor, Tensor]:
        n = self.count
        mean = self.sum / n
        var = (self.sq_sum - n * mean * mean).clamp_min(0) / (n - 1).clamp_min(1)
        return mean, var


def _loss_forward(model: nn.Module) -> Callable[[dict], None]:
    """One training-style forward of a data batch, as ``BaseModel.train_step`` does it."""
    module = model.module if is_model_wrapper(model) else model

    def forward(data: dict) -> None:
        data = module.data_preprocessor(data, True)
        module._run_forward(data, mode="loss")

    return forward


def update_bn_stats(
    model: nn.Module,
    batches: Iterable,
    num_batches: int,
    scope: str | None = DEFAULT_SCOPE,
    log: Callable[[str], None] = print,
) -> dict[str, _BatchNorm]:
    """Set the population statistics of ``bn_layers(model, scope)`` from ``batches``.

    Args:
        model: a detector (or its DDP wrapper) with the layers to update in training
            mode; its mode is not changed.
        batches: data batches as the training data loader yields them. Sized loaders
            are read at most once: a ``num_batches`` above ``len(batches)`` uses
            them all and says so through ``log``.
        num_batches: K, the number of batches to read (>= 1).
        scope: dotted name of the submodule whose BN layers are updated.
        log: where the one-line summary goes.

    Returns:
        The updated layers by name.

    Raises:
        NoBatchNormError: no BN layer in training mode under ``scope``.
    """
    module = model.module if is_model_wrapper(model) else model
    layers = bn_layers(module, scope)
    if not layers:
        raise NoBatchNormError(
            f"no BN layer in training mode under model.{scope or ''}: "
            "precise BN has nothing to update (choose another module)"
        )
    if num_batches < 1:
        raise ValueError(f"num_batches must be >= 1, got {num_batches}")
    length = len(batches) if hasattr(batches, "__len__") else None
    if length is not None and num_batches > length:
        log(f"precise BN: {num_batches} batches asked, the loader has {length}: using all")
        num_batches = length
    device = next(iter(layers.values())).running_mean.device
    moments = {name: _Moments(bn.num_features, device) for name, bn in layers.items()}
    saved = {name: buf.clone() for name, buf in module.named_buffers()}
    forward = _loss_forward(model)
    devices = [device] if device.type == "cuda" else []
    with ExitStack() as stack, torch.no_grad():
        stack.enter_context(torch.random.fork_rng(devices=devices))
        for name, bn in layers.items():
            stack.callback(bn.register_forward_pre_hook(moments[name].add).remove)
        seen = 0
        for data in itertools.islice(batches, num_batches):
            forward(data)
            seen += 1
    with torch.no_grad():
        for name, buf in module.named_buffers():
            buf.copy_(saved[name])
        for name, bn in layers.items():
            moments[name].reduce()
            mean, var = moments[name].mean_var()
            bn.running_mean.copy_(mean)
            bn.running_var.copy_(var)
    log(f"precise BN: {len(layers)} BN layer(s) under model.{scope or ''} over {seen} batch(es)")
    return layers


def precise_bn_state(layers: dict[str, _BatchNorm]) -> dict[str, Tensor]:
    """The updated buffers as state-dict entries (``<layer>.running_mean`` / ``_var``)."""
    state = {}
    for name, bn in layers.items():
        state[f"{name}.running_mean"] = bn.running_mean.detach().clone()
        state[f"{name}.running_var"] = bn.running_var.detach().clone()
    return state


def precise_bn_checkpoint(
    cfg,
    checkpoint_path: str,
    out: str,
    num_batches: int,
    scope: str | None = DEFAULT_SCOPE,
    log: Callable[[str], None] = print,
) -> None:
    """Write ``out``: ``checkpoint_path`` with Precise BN statistics for ``cfg``'s model.

    The model is built from ``cfg``, loaded weights-only from the checkpoint, put in
    training mode (so ``norm_eval`` backbones stay frozen) and updated with
    :func:`update_bn_stats` over ``cfg.train_dataloader``. Everything else in the
    checkpoint (weights, optimizer state, meta) is copied unchanged; ``meta.precise_bn``
    records how the statistics were made. ``out`` must not exist; the file appears
    complete or not at all (:mod:`.atomic_files`), and the input is never touched.

    Raises:
        BadInputError: ``out`` exists, the checkpoint is missing, unsafe or does not fit
            the model, or the scope holds no BN layer in training mode.
    """
    import io
    import os
    import os.path as osp

    from mmengine.device import get_device
    from mmengine.registry import init_default_scope
    from mmengine.runner import Runner

    from ..checks.builds import build_model_up_front
    from ..checks.checkpoints import check_checkpoint, check_checkpoint_fits
    from ..checks.files import check_new_file
    from .atomic_files import write_bytes_atomic
    from .safe_checkpoint import check_weights_only

    check_new_file(out, "--out")
    if num_batches < 1:
        raise BadInputError(f"--batches {num_batches}: give 1 or more batches")
    check_checkpoint(checkpoint_path, "CHECKPOINT")
    model = build_model_up_front(cfg)
    checkpoint = check_weights_only(checkpoint_path)
    if "state_dict" not in checkpoint:
        checkpoint = {"state_dict": checkpoint}
    check_checkpoint_fits(model, checkpoint, checkpoint_path, "test")
    model.load_state_dict(checkpoint["state_dict"], strict=False)
    model.to(get_device()).train()
    if not bn_layers(model, scope):
        raise BadInputError(
            f"{cfg.filename or 'the config'}: model.{scope or ''} holds no BN layer in training "
            "mode, so precise BN has nothing to update; choose another --scope"
        )
    init_default_scope(cfg.get("default_scope", "mmdet"))
    seed = (cfg.get("randomness") or {}).get("seed")
    loader = Runner.build_dataloader(cfg.train_dataloader, seed=seed)
    layers = update_bn_stats(model, loader, num_batches, scope, log=log)
    checkpoint["state_dict"].update({k: v.cpu() for k, v in precise_bn_state(layers).items()})
    meta = dict(checkpoint.get("meta") or {})
    meta["precise_bn"] = dict(
        source=osp.basename(checkpoint_path), batches=num_batches, scope=scope
    )
    checkpoint["meta"] = meta
    buffer = io.BytesIO()
    torch.save(checkpoint, buffer)
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    write_bytes_atomic(out, buffer.getvalue())
    log(f"precise BN: wrote {out}")


__all__ = [
    "DEFAULT_SCOPE",
    "NoBatchNormError",
    "bn_layers",
    "precise_bn_checkpoint",
    "precise_bn_state",
    "update_bn_stats",
]
