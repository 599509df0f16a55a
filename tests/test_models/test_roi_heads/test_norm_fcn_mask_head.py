"""NormFCNMaskHead: norm after the deconv, configurable activation, edge cases."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import assert_xavier_uniform
from mmdet.models.roi_heads.mask_heads import FCNMaskHead
from mmdet.structures.mask import BitmapMasks
from mmengine.config import ConfigDict
from mmengine.structures import InstanceData
from roi_heads_helpers import (
    BN,
    EVONORM,
    NORM_ACTS,
    RELU,
    assert_layer_norm_act,
    assert_no_act_after_evonorm,
    call_order,
)
from torch import nn

from mmdet_evonorm.models.roi_heads.mask_heads import NormFCNMaskHead

W, NUM_CLASSES = 32, 3


def build(norm_act=(BN, RELU), **kwargs) -> NormFCNMaskHead:
    norm_cfg, act_cfg = norm_act
    kwargs = {"in_channels": W, "conv_out_channels": W, "num_classes": NUM_CLASSES, **kwargs}
    head = NormFCNMaskHead(norm_cfg=norm_cfg, act_cfg=act_cfg, **kwargs)
    head.init_weights()
    return head


@pytest.mark.parametrize("norm_act", list(NORM_ACTS), ids=list(NORM_ACTS))
def test_fpn_layout_14_to_28(norm_act):
    norm_cfg, act_cfg = NORM_ACTS[norm_act]
    head = build((norm_cfg, act_cfg)).train()
    norm_params = (3 if norm_cfg is EVONORM else 2) * W
    expected = 4 * (W * W * 9 + norm_params) + W * W * 4 + norm_params + W * NUM_CLASSES + 3
    assert sum(p.numel() for p in head.parameters()) == expected  # no bias before a norm
    x = torch.randn(5, W, 14, 14)
    assert head(x).shape == (5, NUM_CLASSES, 28, 28)
    layers = [head.convs[i].conv for i in range(4)] + [head.upsample.conv]
    assert isinstance(layers[-1], nn.ConvTranspose2d)
    assert_layer_norm_act(call_order(head, x), layers, act=act_cfg is not None)


def test_c3_layout_no_convs_7_to_14():
    """C3 rows: the 2048-wide res5 output (here 64) goes straight to the deconv."""
    head = build(num_convs=0, in_channels=64)
    assert len(head.convs) == 0 and head.upsample.conv.in_channels == 64
    assert head(torch.randn(4, 64, 7, 7)).shape == (4, NUM_CLASSES, 14, 14)


def test_no_activation_after_evonorm():
    head = build((EVONORM, RELU))  # the ReLU is dropped after EvoNorm-S0
    assert_no_act_after_evonorm(head, torch.randn(3, W, 14, 14))


def test_without_norm_it_is_mmdet_fcn_mask_head():
    """``norm_cfg=None``: same maths as ``FCNMaskHead`` (conv+ReLU, deconv+ReLU)."""
    ours = build((None, RELU))
    theirs = FCNMaskHead(in_channels=W, conv_out_channels=W, num_classes=NUM_CLASSES)
    state = {k.replace("upsample.conv.", "upsample."): v for k, v in ours.state_dict().items()}
    theirs.load_state_dict(state)
    x = torch.randn(3, W, 14, 14)
    torch.testing.assert_close(ours(x), theirs(x))


def test_non_learnable_upsample_has_no_norm():
    head = build(upsample_cfg=dict(type="bilinear", scale_factor=2))
    assert isinstance(head.upsample, nn.Upsample)
    assert head(torch.randn(2, W, 14, 14)).shape == (2, NUM_CLASSES, 28, 28)


@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("norm_act", list(NORM_ACTS), ids=list(NORM_ACTS))
def test_zero_rois(norm_act, train):
    head = build(NORM_ACTS[norm_act]).train(train)
    x = torch.zeros(0, W, 14, 14, requires_grad=True)
    out = head(x)
    assert out.shape == (0, NUM_CLASSES, 28, 28)
    out.sum().backward()
    assert x.grad.shape == x.shape


def test_all_parameters_get_gradients():
    head = build((EVONORM, None)).train()
    head(torch.randn(4, W, 14, 14)).square().sum().backward()
    for name, param in head.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name


def test_every_conv_and_the_deconv_start_xavier_uniform():
    """TF-slim's default initialiser (docs/original.md), not FCNMaskHead's Kaiming-normal."""
    head = build(num_convs=2, conv_out_channels=64)
    layers = [head.convs[0].conv, head.convs[1].conv, head.upsample.conv, head.conv_logits]
    assert isinstance(layers[2], nn.ConvTranspose2d)
    for layer in layers:
        assert_xavier_uniform(layer)


def test_init_cfg_none_keeps_mmdet_kaiming_init():
    head = build(num_convs=0, conv_out_channels=64, init_cfg=None)
    logits = head.conv_logits.weight  # Kaiming-normal, fan_out: std sqrt(2 / 3)
    assert logits.std().item() == pytest.approx((2 / NUM_CLASSES) ** 0.5, rel=0.2)


@pytest.mark.parametrize("soft", [True, False], ids=["soft", "binary"])
def test_soft_mask_targets_are_bilinear_fractions(soft):
    """``train_cfg.rcnn.soft_mask_target``: mmdet's targets keep the bilinear
    fractions of the resized GT mask (the original's), or round them at 0.5."""
    gt = np.zeros((1, 32, 32), dtype=np.uint8)
    gt[0, 8:24, 8:24] = 1
    result = InstanceData()
    result.pos_priors = torch.tensor([[4.0, 4.0, 20.0, 20.0]])  # cuts the mask edge
    result.pos_assigned_gt_inds = torch.tensor([0])
    targets = build().get_targets(
        [result],
        [InstanceData(masks=BitmapMasks(gt, 32, 32))],
        ConfigDict(mask_size=7, soft_mask_target=soft),
    )
    assert targets.shape == (1, 7, 7) and targets.min() >= 0 and targets.max() == 1
    fractional = ((targets > 0) & (targets < 1)).any()
    assert fractional if soft else set(targets.unique().tolist()) == {0.0, 1.0}
