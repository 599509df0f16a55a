"""EvoNorm-S0 norm layer for mmcv's ``build_norm_layer`` / ``ConvModule``."""

from __future__ import annotations

import inspect
import numbers

import torch
from mmengine.registry import MODELS
from torch import Tensor, nn

from .evonorm_function import evonorm_s0

#: ``optim_wrapper.paramwise_cfg.custom_keys`` entry that takes EvoNorm-S0's
#: weight, bias and v out of weight decay (the original has no regulariser on
#: them: docs/original.md, "EvoNorm-S0"). mmengine's ``norm_decay_mult`` cannot do it, as
#: ``DefaultOptimWrapperConstructor`` only knows BN/GN/LN/IN as norms; custom
#: keys match as substrings of the parameter names, and every EvoNormS0 built by
#: ``build_norm_layer`` / ``ConvModule`` is named after its ``_abbr_``
#: (``evonorm``, ``evonorm1``, ...). A module that holds one itself must use an
#: attribute name containing ``evonorm`` too.
EVONORM_PARAMWISE_CUSTOM_KEYS = {"evonorm": dict(decay_mult=0.0)}


def _check_positive_int(field: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"EvoNormS0: {field} must be a positive integer, got {value!r}")


def _resolve_groups(num_features: int, groups: int, group_size: int | None) -> int:
    """Number of groups: C // group_size, or ``groups`` clamped to C and lowered
    until it divides C (the TF reference code's fallback)."""
    _check_positive_int("num_features", num_features)
    if group_size is not None:
        _check_positive_int("group_size", group_size)
        if num_features % group_size:
            raise ValueError(
                f"EvoNormS0: group_size={group_size} must divide num_features={num_features}"
            )
        return num_features // group_size
    _check_positive_int("groups", groups)
    groups = min(int(groups), num_features)
    while num_features % groups:
        groups -= 1
    return groups


@MODELS.register_module("EvoNormS0")
class EvoNormS0(nn.Module):
    """EvoNorm-S0, a batch-independent normalization-activation layer.

    Liu et al. 2020, "Evolving Normalization-Activation Layers"
    (https://arxiv.org/abs/2004.02967); reference code ``evonorm`` /
    ``_group_std`` in tensorflow/tpu ``models/official/resnet/resnet_model.py``.
    Per sample and per group of C/G channels:

    .. code-block:: none

        x [N, C, H, W]  (a 2-D [N, C] input is read as [N, C, 1, 1])
        var[n, g] = population variance of x[n, channels of g, :, :]   (float32)
        y = x * sigmoid(v * x) / sqrt(var + eps) * weight + bias       [N, C, H, W]

    With ``apply_act=False`` it is the affine ``x * weight + bias`` only, as the
    paper's ``nonlinearity=False`` and timm's ``EvoNorm2dS0``. There are no
    running statistics: train and eval give the same output and samples never
    affect each other, so an empty batch (zero RoIs) is fine too.

    Usage notes:

    * It replaces a Norm + ReLU pair, so build the conv / FC block with
      ``act_cfg=None`` (:func:`act_cfg_after_norm` decides it from a
      ``norm_cfg``); ``ConvModule``'s ``bias='auto'`` drops the conv bias.
    * Its parameters take no weight decay: add
      :data:`EVONORM_PARAMWISE_CUSTOM_KEYS` to ``paramwise_cfg.custom_keys``.
      It selects parameter names containing ``evonorm``, so hold the layer under
      the name ``build_norm_layer`` returns (``evonorm``, ``evonorm1``, ...).
    * Registered in mmengine's root ``MODELS`` (like mmcv's BN/GN), so
      ``norm_cfg=dict(type='EvoNormS0')`` builds with or without mmdet's scope.
      mmcv always passes ``eps`` and applies ``requires_grad`` itself.
    * Init schemes aimed at conv/linear layers (``layer='Conv2d'``) skip it;
      ``ConvModule.init_weights`` resets ``weight``/``bias`` to 1/0 and leaves
      ``v``.

    Speed and memory come from :class:`.EvoNormS0Function` (Triton kernels on
    CUDA, fused C kernels on CPU, chosen by ``MMDET_EVONORM_BACKEND``; one saved
    input-sized tensor); see ``docs/benchmarks.md``.

    Args:
        num_features (int): Number of channels C.
        groups (int): Number of groups G. Default: 32. Clamped to C; if it does
            not divide C it is lowered until it does, as in the TF reference
            code (e.g. C=48 -> 24 groups). The resolved value is ``self.groups``.
        eps (float): Added to the group variance. Default: 1e-5.
        apply_act (bool): Apply the sigmoid gate and the normalization; if
            False, only the affine transform (no ``v`` parameter). Default: True.
        group_size (int, optional): Channels per group instead of ``groups``;
            must divide C. Takes precedence over ``groups``. Default: None.
    """

    _abbr_ = "evonorm"

    def __init__(
        self,
        num_features: int,
        groups: int = 32,
        eps: float = 1e-5,
        apply_act: bool = True,
        group_size: int | None = None,
    ) -> None:
        super().__init__()
        self.groups = _resolve_groups(num_features, groups, group_size)
        self.num_features = num_features
        self.eps = eps
        self.apply_act = apply_act
        self.weight = nn.Parameter(torch.empty(num_features))
        self.bias = nn.Parameter(torch.empty(num_features))
        self.v = nn.Parameter(torch.empty(num_features)) if apply_act else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """weight = 1, bias = 0, v = 1, as in the paper."""
        nn.init.ones_(self.weight)
        nn.init.zeros_(self.bias)
        if self.v is not None:
            nn.init.ones_(self.v)

    def forward(self, x: Tensor) -> Tensor:
        """Normalize ``x`` [N, C] or [N, C, H, W]; same shape and dtype out."""
        if x.dim() < 2 or x.shape[1] != self.num_features:
            raise ValueError(
                f"EvoNormS0: expected input [N, {self.num_features}] or "
                f"[N, {self.num_features}, H, W], got {tuple(x.shape)}"
            )
        if not self.apply_act:
            shape = (1, -1) + (1,) * (x.dim() - 2)
            return x * self.weight.view(shape).to(x.dtype) + self.bias.view(shape).to(x.dtype)
        return evonorm_s0(x, self.weight, self.bias, self.v, self.groups, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, groups={self.groups}, eps={self.eps}, apply_act={self.apply_act}"
        )


def act_cfg_after_norm(norm_cfg: dict | None, act_cfg: dict | None) -> dict | None:
    """The activation config to put after a norm built from ``norm_cfg``.

    ``None`` when that norm already applies a non-linearity (EvoNormS0 with
    ``apply_act=True``), else ``act_cfg``: a neck or head with a configurable
    ``norm_cfg`` keeps Norm + ReLU for BN/GN and never adds a ReLU after
    EvoNorm-S0 (docs/original.md, "EvoNorm-S0").

    Args:
        norm_cfg (dict, optional): A ``build_norm_layer`` config, or None.
        act_cfg (dict, optional): Activation used with any other norm (or
            none), e.g. ``dict(type='ReLU')``.
    """
    if norm_cfg is None:
        return act_cfg
    layer = norm_cfg["type"]
    layer = layer if inspect.isclass(layer) else MODELS.get(layer)
    is_evonorm = inspect.isclass(layer) and issubclass(layer, EvoNormS0)
    return None if is_evonorm and norm_cfg.get("apply_act", True) else act_cfg
