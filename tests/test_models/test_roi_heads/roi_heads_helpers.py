"""Norm configs and forward-order tracing shared by the RoI-head tests."""

from __future__ import annotations

import torch
from torch import nn

from mmdet_evonorm.models.layers import EvoNormS0

BN = dict(type="BN")
GN = dict(type="GN", num_groups=32)
EVONORM = dict(type="EvoNormS0")
RELU = dict(type="ReLU")
# (norm_cfg, act_cfg) pairs the heads are used with; EvoNorm-S0 never gets an act.
NORM_ACTS = {"BN+ReLU": (BN, RELU), "GN+ReLU": (GN, RELU), "EvoNormS0": (EVONORM, None)}
ACTIVATIONS = (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.ELU, nn.GELU, nn.SiLU, nn.Sigmoid, nn.Tanh)
NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.GroupNorm, EvoNormS0)


def call_order(module: nn.Module, x: torch.Tensor) -> list[nn.Module]:
    """Run ``module(x)`` and return its leaf modules in the order they ran."""
    order: list[nn.Module] = []
    leaves = [m for m in module.modules() if not list(m.children())]
    handles = [m.register_forward_hook(lambda m, i, o: order.append(m)) for m in leaves]
    try:
        module(x)
    finally:
        for handle in handles:
            handle.remove()
    return order


def assert_no_act_after_evonorm(module: nn.Module, x: torch.Tensor) -> None:
    """No activation module exists in ``module`` or runs right after an EvoNorm-S0."""
    assert not [m for m in module.modules() if isinstance(m, ACTIVATIONS)]
    order = call_order(module, x)
    positions = [i for i, m in enumerate(order) if isinstance(m, EvoNormS0)]
    assert positions, "no EvoNormS0 ran"
    for i in positions:
        assert i == len(order) - 1 or not isinstance(order[i + 1], ACTIVATIONS)


def assert_layer_norm_act(order: list[nn.Module], layers: list[nn.Module], act: bool) -> None:
    """Each of ``layers`` ran, directly followed by a norm, then an activation iff ``act``."""
    positions = [i for i, m in enumerate(order) if any(m is layer for layer in layers)]
    assert len(positions) == len(layers)
    for i in positions:
        assert isinstance(order[i + 1], NORMS), f"{order[i]} -> {order[i + 1]}"
        follows = order[i + 2] if i + 2 < len(order) else None
        assert isinstance(follows, ACTIVATIONS) == act, f"{order[i + 1]} -> {follows}"
