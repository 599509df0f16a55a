"""BalanceStage: shapes, gather-refine-scatter maths, gradients."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from mmdet.registry import MODELS

from mmdet_evonorm.models.layers import EvoNormS0
from mmdet_evonorm.models.necks import RESIZE_MODES, BalanceStage, resize_bilinear

WIDTH = 32


def reference_balance(stage: BalanceStage, inputs, mode: str):
    """Mean at the reference size, conv3x3 (no bias) + norm, resize back, add."""
    size = inputs[stage.refine_level].shape[-2:]
    mean = sum(resize_bilinear(x, size, mode) for x in inputs) / len(inputs)
    refined = stage.refine_conv.evonorm(F.conv2d(mean, stage.refine_conv.conv.weight, padding=1))
    return [x + resize_bilinear(refined, x.shape[-2:], mode) for x in inputs]


@pytest.mark.parametrize("num_levels", [4, 5])
def test_shapes(pyramid, num_levels):
    stage = MODELS.build(dict(type="BalanceStage", in_channels=WIDTH))
    inputs = pyramid([WIDTH] * num_levels)
    outputs = stage(inputs)
    assert [y.shape for y in outputs] == [x.shape for x in inputs]


def test_layers_follow_the_original():
    stage = BalanceStage(WIDTH)
    assert stage.refine_level == 1
    assert stage.refine_conv.conv.kernel_size == (3, 3)
    assert stage.refine_conv.conv.bias is None
    assert isinstance(stage.refine_conv.evonorm, EvoNormS0)
    assert not hasattr(stage.refine_conv, "act")


@pytest.mark.parametrize("mode", RESIZE_MODES)
@pytest.mark.parametrize("refine_level", [1, 2])
def test_matches_reference(pyramid, mode, refine_level):
    torch.manual_seed(0)
    stage = BalanceStage(WIDTH, refine_level=refine_level, resize_mode=mode).eval()
    inputs = pyramid([WIDTH] * 4)
    for out, expected in zip(stage(inputs), reference_balance(stage, inputs, mode), strict=True):
        torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)


def test_reference_level_gets_refined_map_unresized(pyramid):
    torch.manual_seed(0)
    stage = BalanceStage(WIDTH).eval()
    inputs = pyramid([WIDTH] * 4)
    mean = sum(resize_bilinear(x, (13, 19), "torch_bilinear") for x in inputs) / 4
    torch.testing.assert_close(stage(inputs)[1] - inputs[1], stage.refine_conv(mean))


def test_gradients_reach_every_parameter(pyramid, assert_all_params_get_grad, norm_cfg):
    torch.manual_seed(0)
    stage = BalanceStage(WIDTH, norm_cfg=norm_cfg).train()
    inputs = pyramid([WIDTH] * 4, requires_grad=True)
    outputs = stage(inputs)
    sum((y * torch.randn_like(y)).sum() for y in outputs).backward()
    assert_all_params_get_grad(stage)
    assert all(x.grad.abs().sum() > 0 for x in inputs)


def test_bad_arguments_are_rejected(pyramid):
    with pytest.raises(ValueError, match="resize_mode"):
        BalanceStage(WIDTH, resize_mode="nearest")
    with pytest.raises(ValueError, match="refine_level=4"):
        BalanceStage(WIDTH, refine_level=4)(pyramid([WIDTH] * 4))
