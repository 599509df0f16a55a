"""EvoNorm-S0 (placeholder reference implementation; being replaced by the EvoNorm owner)."""

from __future__ import annotations

import torch
from mmengine.registry import MODELS
from torch import nn


@MODELS.register_module("EvoNormS0")
class EvoNormS0(nn.Module):
    """EvoNorm-S0: ``x * sigmoid(v * x) / group_std(x) * weight + bias``."""

    _abbr_ = "evonorm"

    def __init__(self, num_features: int, groups: int = 32, eps: float = 1e-5,
                 apply_act: bool = True) -> None:
        super().__init__()
        self.num_features = num_features
        self.groups = min(groups, num_features)
        while num_features % self.groups:
            self.groups -= 1
        self.eps = eps
        self.apply_act = apply_act
        self.weight = nn.Parameter(torch.ones(num_features))
        self.bias = nn.Parameter(torch.zeros(num_features))
        self.v = nn.Parameter(torch.ones(num_features)) if apply_act else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        x4 = x.reshape(shape[0], shape[1], -1, 1) if x.dim() == 2 else x
        n, c, h, w = x4.shape
        view = (1, c, 1, 1)
        if self.apply_act:
            var = x4.float().reshape(n, self.groups, -1).var(-1, unbiased=False)
            std = (var + self.eps).sqrt().to(x.dtype)
            std = std.repeat_interleave(c // self.groups, 1).reshape(n, c, 1, 1)
            x4 = x4 * torch.sigmoid(self.v.view(view) * x4) / std
        out = x4 * self.weight.view(view) + self.bias.view(view)
        return out.reshape(shape)
