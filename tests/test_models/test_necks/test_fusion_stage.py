"""FusionStage: F3 shapes, maths against a written-out reference, gradients."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from mmdet.registry import MODELS

from mmdet_evonorm.models.layers import EvoNormS0
from mmdet_evonorm.models.necks import RESIZE_MODES, FusionStage, resize_bilinear

WIDTH = 32


@pytest.mark.parametrize("num_levels", [4, 5])
@pytest.mark.parametrize(("version", "f3_width"), [("v1", 2 * WIDTH), ("v2", WIDTH)])
def test_shapes_and_levels_kept(pyramid, num_levels, version, f3_width):
    stage = MODELS.build(dict(type="FusionStage", in_channels=WIDTH, version=version))
    inputs = pyramid([WIDTH] * num_levels)
    outputs = stage(inputs)
    assert len(outputs) == num_levels + 1
    assert outputs[0].shape == (2, f3_width, 25, 38)
    assert stage.out_channels == f3_width
    for x, y in zip(inputs, outputs[1:], strict=True):
        assert y is x  # P3...Pn are returned unchanged


def test_layers_follow_the_original():
    conv_module = FusionStage(WIDTH).fuse_conv
    assert conv_module.conv.kernel_size == (3, 3)
    assert conv_module.conv.bias is None
    assert conv_module.conv.in_channels == 2 * WIDTH
    assert isinstance(conv_module.evonorm, EvoNormS0)
    assert not hasattr(conv_module, "act")


@pytest.mark.parametrize("mode", RESIZE_MODES)
def test_f3_matches_reference(pyramid, mode):
    torch.manual_seed(0)
    stage = FusionStage(WIDTH, resize_mode=mode).eval()
    inputs = pyramid([WIDTH] * 4)
    p3, *coarse = inputs
    mean = sum(resize_bilinear(x, (25, 38), mode) for x in coarse) / len(coarse)
    conv_out = F.conv2d(torch.cat([p3, mean], 1), stage.fuse_conv.conv.weight, padding=1)
    expected = stage.fuse_conv.evonorm(conv_out)
    torch.testing.assert_close(stage(inputs)[0], expected, rtol=1e-5, atol=1e-5)


def test_resize_mode_changes_f3(pyramid):
    torch.manual_seed(0)
    stage = FusionStage(WIDTH)
    inputs = pyramid([WIDTH] * 4)
    torch_f3 = stage(inputs)[0]
    stage.resize_mode = "tf_legacy_bilinear"
    assert not torch.allclose(torch_f3, stage(inputs)[0])


def test_gradients_reach_every_parameter(pyramid, assert_all_params_get_grad, norm_cfg):
    torch.manual_seed(0)
    stage = FusionStage(WIDTH, norm_cfg=norm_cfg).train()
    inputs = pyramid([WIDTH] * 4, requires_grad=True)
    f3 = stage(inputs)[0]
    (f3 * torch.randn_like(f3)).sum().backward()
    assert_all_params_get_grad(stage)
    assert all(x.grad.abs().sum() > 0 for x in inputs)  # every level feeds F3


def test_bad_arguments_are_rejected(pyramid):
    with pytest.raises(ValueError, match="version"):
        FusionStage(WIDTH, version="v0")
    with pytest.raises(ValueError, match="resize_mode"):
        FusionStage(WIDTH, resize_mode="nearest")
    with pytest.raises(ValueError, match="at least 2"):
        FusionStage(WIDTH)(pyramid([WIDTH]))
