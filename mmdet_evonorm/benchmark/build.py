"""A module from its config, with this package's modules registered and seeded weights."""

from __future__ import annotations

import copy

import torch
from torch import nn


def build_module(cfg: dict | list, device: torch.device | str = "cpu", seed: int = 0) -> nn.Module:
    """mmdet's ``MODELS.build(cfg)`` (a list: an ``nn.Sequential``) after
    ``torch.manual_seed(seed)``, then ``init_weights()``, on ``device``."""
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules

    register_all_modules()  # this package's modules register when it is imported
    torch.manual_seed(seed)
    module = MODELS.build(copy.deepcopy(cfg))
    module.init_weights()
    return module.to(device)
