"""Res5SharedHead: stride-1 bottleneck stage with trainable, train-mode BN."""

from __future__ import annotations

import pytest
import torch
from mmdet.registry import MODELS
from torch import nn

from mmdet_evonorm.models.roi_heads.shared_heads import Res5SharedHead


def expected_params(in_channels: int, planes: int, num_blocks: int = 3) -> int:
    """Three bottlenecks (1x1, 3x3, 1x1, BN each, no conv bias) + projection shortcut."""
    out = 4 * planes

    def block(c_in: int) -> int:
        return c_in * planes + 9 * planes * planes + planes * out + 2 * (2 * planes + out)

    shortcut = in_channels * out + 2 * out
    return block(in_channels) + shortcut + (num_blocks - 1) * block(out)


@pytest.mark.parametrize("in_channels", [256, 512], ids=["P3", "F3"])
def test_c3_sizes(in_channels):
    head = MODELS.build(dict(type="Res5SharedHead", in_channels=in_channels))
    head.init_weights()
    assert head.out_channels == 2048
    assert sum(p.numel() for p in head.parameters()) == expected_params(in_channels, 512)
    assert head(torch.randn(2, in_channels, 7, 7)).shape == (2, 2048, 7, 7)


def test_stride_option():
    head = Res5SharedHead(in_channels=32, planes=16, stride=2)
    assert head(torch.randn(2, 32, 7, 7)).shape == (2, 64, 4, 4)


def test_bn_is_trainable_and_uses_batch_statistics_in_training():
    head = Res5SharedHead(in_channels=32, planes=16)
    head.init_weights()
    head.train()
    bns = [m for m in head.modules() if isinstance(m, nn.BatchNorm2d)]
    assert len(bns) == 3 * 3 + 1
    assert all(bn.training and bn.weight.requires_grad for bn in bns)
    x = torch.randn(6, 32, 7, 7)
    first = head(x)[0]
    assert all(bn.num_batches_tracked == 1 for bn in bns)
    first_with_others = head(torch.cat([x[:1], 5 * torch.randn(5, 32, 7, 7)]))[0]
    assert not torch.allclose(first, first_with_others, atol=1e-4)


def test_norm_eval_freezes_statistics():
    head = Res5SharedHead(in_channels=32, planes=16, norm_eval=True).train()
    assert head.training
    assert not any(m.training for m in head.modules() if isinstance(m, nn.BatchNorm2d))


@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
def test_zero_and_single_roi(train):
    head = Res5SharedHead(in_channels=32, planes=16).train(train)
    assert head(torch.zeros(0, 32, 7, 7)).shape == (0, 64, 7, 7)
    assert torch.isfinite(head(torch.randn(1, 32, 7, 7))).all()
