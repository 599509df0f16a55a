"""``init_weights`` of every stage: Xavier-uniform convs, zero biases, closed gate."""

from __future__ import annotations

import math

import pytest
import torch
from mmdet.registry import MODELS

STAGES = [
    dict(type="NonLocalStage", in_channels=[64, 128, 256]),
    dict(type="FusionStage", in_channels=64),
    dict(type="BalanceStage", in_channels=64),
]


@pytest.mark.parametrize("cfg", STAGES, ids=lambda cfg: cfg["type"])
def test_init_weights_gives_xavier_uniform_convs(cfg):
    torch.manual_seed(0)
    stage = MODELS.build(cfg)
    stage.init_weights()
    convs = [m for m in stage.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs
    for conv in convs:
        fan_in = conv.in_channels * math.prod(conv.kernel_size)
        fan_out = conv.out_channels * math.prod(conv.kernel_size)
        bound = math.sqrt(6 / (fan_in + fan_out))
        weight = conv.weight.detach()
        assert weight.abs().max() <= bound
        assert weight.std() == pytest.approx(bound / math.sqrt(3), rel=0.15)
        assert conv.bias is None or not conv.bias.any()
    for name, param in stage.named_parameters():
        if name.endswith("gamma"):
            assert param.item() == 0
