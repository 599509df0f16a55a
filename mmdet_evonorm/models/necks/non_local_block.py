"""The June-2020 ``non_local_blockv1`` of object_detection2 as a PyTorch module."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from mmcv.cnn import build_activation_layer, build_norm_layer
from mmdet.utils import OptConfigType, OptMultiConfig
from mmengine.model import BaseModule
from torch import Tensor, nn

from ..default_cfgs import GN_32, RELU, XAVIER_CONV_INIT


class GatedNonLocalBlock(BaseModule):
    """Single-head non-local block with a zero-initialised scalar gate.

    Semantics of ``non_local_blockv1`` as of June 2020 (``vghost2008/wml1``,
    ``wnnlayer.py`` @911cd7b, attention helper ``nlp/wlayers.py``), with the
    object_detection2 defaults (``inner_dims_multiplier=[8, 8, 2]``, one head)::

        x (N, C, H, W)
        ├─ 1x1 conv -> Q (C/8) ─┐
        ├─ 1x1 conv -> K (C/8) ─┼─ A = softmax_keys(Q Kᵀ / sqrt(C/2))   (N, HW, HW)
        ├─ 1x1 conv -> V (C/2) ─┴─ O = A V                              (N, HW, C/2)
        │                          1x1 conv(O) -> (N, C, H, W)
        ├──────────────────────── (+) -> norm -> act = z
        └──────────────────────────────────────────── out = x + gamma * z

    The scale uses the V width (a quirk of the original helper), the norm (GN 32 in
    the original) acts on the sum of input and attention output, and ``gamma`` is a
    learnable scalar initialised to 0, so the block is the identity at init.

    mmcv's ``NonLocal2d`` is not a substitute: one inner width for Q/K/V, norm on
    the attention branch only, no ReLU and no scalar gate.

    Memory: the attention matrix holds N·(H·W)² elements (4 bytes each in fp32),
    e.g. 1280² ≈ 6.6 MB per image for a 32×40 stride-16 map (512×640 input),
    4200² ≈ 71 MB at stride 16 for 800×1333, but 16700² ≈ 1.1 GB at stride 8;
    backward keeps it too. PyTorch's math kernel (CPU) materialises it; the fused
    CUDA kernels of ``scaled_dot_product_attention`` may avoid storing it. Use the
    block on coarse levels only.

    Args:
        channels (int): Input (and output) channels C.
        qk_ratio (int): C divided by the Q/K width. Defaults to 8.
        v_ratio (int): C divided by the V width. Defaults to 2.
        norm_cfg (dict, optional): Norm on ``x + W_o·O``. Defaults to GN with 32
            groups, eps 1e-5.
        act_cfg (dict, optional): Activation after the norm. Defaults to ReLU.
        init_cfg (dict or list[dict], optional): Initialisation config. Defaults to
            Xavier-uniform convolutions (TF-slim's default initialiser).
    """

    def __init__(
        self,
        channels: int,
        qk_ratio: int = 8,
        v_ratio: int = 2,
        norm_cfg: OptConfigType = GN_32,
        act_cfg: OptConfigType = RELU,
        init_cfg: OptMultiConfig = XAVIER_CONV_INIT,
    ) -> None:
        super().__init__(init_cfg=init_cfg)
        if channels % qk_ratio or channels % v_ratio:
            raise ValueError(
                f"channels={channels} must be divisible by qk_ratio={qk_ratio} "
                f"and v_ratio={v_ratio}"
            )
        self.query = nn.Conv2d(channels, channels // qk_ratio, 1)
        self.key = nn.Conv2d(channels, channels // qk_ratio, 1)
        self.value = nn.Conv2d(channels, channels // v_ratio, 1)
        self.out = nn.Conv2d(channels // v_ratio, channels, 1)
        # Registered under mmcv's name ('gn', 'evonorm', ...), as ConvModule does, so
        # paramwise custom_keys such as 'evonorm' find it.
        self.norm_name = None
        if norm_cfg:
            self.norm_name, norm = build_norm_layer(norm_cfg, channels)
            self.add_module(self.norm_name, norm)
        self.act = build_activation_layer(act_cfg) if act_cfg else None
        self.gamma = nn.Parameter(torch.zeros(1))

    @property
    def norm(self) -> nn.Module | None:
        return getattr(self, self.norm_name) if self.norm_name else None

    def forward(self, x: Tensor) -> Tensor:
        """Return ``x + gamma * act(norm(x + W_o · attention(x)))``."""
        n, _, h, w = x.shape
        q, k, v = (
            conv(x).flatten(2).transpose(1, 2) for conv in (self.query, self.key, self.value)
        )
        attended = F.scaled_dot_product_attention(q, k, v, scale=v.shape[-1] ** -0.5)
        z = x + self.out(attended.transpose(1, 2).reshape(n, -1, h, w))
        if self.norm is not None:
            z = self.norm(z)
        if self.act is not None:
            z = self.act(z)
        return x + self.gamma * z
