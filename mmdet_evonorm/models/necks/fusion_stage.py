"""Post-FPN fusion stage producing F3 (``FusionBackboneHook`` v1 of object_detection2)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from mmdet.registry import MODELS
from mmdet.utils import OptConfigType, OptMultiConfig
from mmengine.model import BaseModule
from torch import Tensor

from ..default_cfgs import EVONORM_S0, XAVIER_CONV_INIT
from .conv_norm_act import conv3x3_norm_act
from .resize import check_resize_mode, mean_resized

_OUT_WIDTH_FACTOR = {"v1": 2, "v2": 1}  # F3 width relative to the P-level width


@MODELS.register_module()
class FusionStage(BaseModule):
    """Fuse the coarse levels into a new stride-8 map F3, keeping P3...Pn.

    ``FusionBackboneHook`` as rewritten on 2020-06-15 (``vghost2008/wml1``,
    ``object_detection2/modeling/backbone/buildin_hooks.py`` @911cd7b, "v1"): the
    levels after the first are resized bilinearly to the first level's size and
    averaged, the mean is concatenated with P3, and a 3×3 convolution without bias
    followed by EvoNorm-S0 (no activation) gives F3::

        P3 (C, H, W) ───────────────────────────┐
        P4, P5, P6 ── resize to (H, W) ── mean ─┴─ concat (2C) ── conv3x3 ── norm ── F3
        outputs: (F3, P3, P4, P5, P6)

    F3 is put first so RoI extractors with ``featmap_strides=[8]`` read only F3
    (``StandardRoIHead`` passes ``x[:num_inputs]``), while a
    :class:`~mmdet_evonorm.models.dense_heads.RoutedRPNHead` with ``start_level=1`` reads P3...Pn.

    Args:
        in_channels (int): Channels C of every input level (the FPN width).
        version (str): ``'v1'`` (the rows' version): F3 has the concatenated width
            2C; ``'v2'`` (``FusionBackboneHookV2``, 2020-11-27): F3 has width C.
            Defaults to ``'v1'``.
        resize_mode (str): ``'torch_bilinear'`` or ``'tf_legacy_bilinear'`` (the
            original's sampling), see :mod:`.resize`. Defaults to
            ``'torch_bilinear'``.
        norm_cfg (dict, optional): Norm after the conv. Defaults to EvoNorm-S0.
        act_cfg (dict, optional): Activation after the norm. Defaults to None.
        init_cfg (dict or list[dict], optional): Initialisation config. Defaults to
            Xavier-uniform convolutions (TF-slim's default initialiser).
    """

    def __init__(
        self,
        in_channels: int,
        version: str = "v1",
        resize_mode: str = "torch_bilinear",
        norm_cfg: OptConfigType = EVONORM_S0,
        act_cfg: OptConfigType = None,
        init_cfg: OptMultiConfig = XAVIER_CONV_INIT,
    ) -> None:
        super().__init__(init_cfg=init_cfg)
        if version not in _OUT_WIDTH_FACTOR:
            raise ValueError(f"version must be 'v1' or 'v2', got {version!r}")
        self.in_channels = in_channels
        self.out_channels = in_channels * _OUT_WIDTH_FACTOR[version]
        self.resize_mode = check_resize_mode(resize_mode)
        self.fuse_conv = conv3x3_norm_act(2 * in_channels, self.out_channels, norm_cfg, act_cfg)

    def forward(self, inputs: Sequence[Tensor]) -> tuple[Tensor, ...]:
        """Return ``(F3, P3, ..., Pn)`` from ``(P3, ..., Pn)`` (n >= 2 levels)."""
        if len(inputs) < 2:
            raise ValueError(f"FusionStage needs at least 2 maps, got {len(inputs)}")
        first, *coarse = inputs
        mean = mean_resized(coarse, first.shape[-2:], self.resize_mode)
        fused = self.fuse_conv(torch.cat([first, mean], dim=1))
        return (fused, *inputs)
