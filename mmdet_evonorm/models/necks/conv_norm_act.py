"""3×3 conv → norm → activation block shared by the fusion and balance stages."""

from __future__ import annotations

from collections import OrderedDict

from mmcv.cnn import build_activation_layer, build_norm_layer
from mmdet.utils import OptConfigType
from torch import nn


def conv3x3_norm_act(
    in_channels: int,
    out_channels: int,
    norm_cfg: OptConfigType,
    act_cfg: OptConfigType,
) -> nn.Sequential:
    """Return ``Sequential(conv=3x3 no bias, [<norm abbr>=norm], [act])``.

    Plain layers rather than mmcv's ``ConvModule``: a ``ConvModule`` that is a
    direct child of a ``BaseModule`` has its own ``init_weights`` (Kaiming) called
    after the parent's ``init_cfg``, which would silently replace the stages'
    Xavier-uniform initialisation.
    """
    layers = OrderedDict(conv=nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False))
    if norm_cfg:
        # mmcv's name for the norm ('evonorm', 'bn', 'gn'): what paramwise custom_keys match.
        name, layers[name] = build_norm_layer(norm_cfg, out_channels)
    if act_cfg:
        layers["act"] = build_activation_layer(act_cfg)
    return nn.Sequential(layers)
