"""NormConvFCBBoxHead and its presets: layout, sizes, norms, init, edge cases."""

from __future__ import annotations

import pytest
import torch
from helpers import assert_xavier_uniform
from mmdet.registry import MODELS
from roi_heads_helpers import (
    BN,
    EVONORM,
    GN,
    NORM_ACTS,
    RELU,
    assert_layer_norm_act,
    assert_no_act_after_evonorm,
    call_order,
)
from torch import nn

from mmdet_evonorm.models.layers import EvoNormS0
from mmdet_evonorm.models.roi_heads.bbox_heads import (
    NormConvFCBBoxHead,
    SepHBBoxHead,
    SepHV2BBoxHead,
    Shared2FCGNBBoxHead,
)

PRESETS = ["Shared2FCGNBBoxHead", "SepHBBoxHead", "SepHV2BBoxHead"]
# COCO-size head: 256x7x7 RoIs, FC 1024, 80 classes (+ background), 4 deltas/class.
C, S, FC, NUM_CLASSES = 256, 7, 1024, 80
FLAT = C * S * S


def build_head(cfg: dict, **kwargs) -> NormConvFCBBoxHead:
    head = MODELS.build({**cfg, "num_classes": NUM_CLASSES, **kwargs})
    head.init_weights()
    return head


def tiny(preset: str, norm_act=(EVONORM, None)) -> NormConvFCBBoxHead:
    """A narrow preset (32 channels, FC 64, 3 classes) for the forward checks."""
    norm_cfg, act_cfg = norm_act
    return build_head(
        dict(type=preset, norm_cfg=norm_cfg, act_cfg=act_cfg),
        in_channels=32,
        num_classes=3,
        conv_out_channels=32,
        fc_out_channels=64,
    )


def norm_params(norm_cfg: dict, channels: int) -> int:
    return (3 if norm_cfg is EVONORM else 2) * channels  # EvoNorm-S0: weight, bias, v


def predictors(cls_in: int, reg_in: int) -> int:
    return cls_in * (NUM_CLASSES + 1) + NUM_CLASSES + 1 + reg_in * 4 * NUM_CLASSES + 4 * NUM_CLASSES


def expected_params(preset: str, norm_cfg: dict) -> int:
    """Parameter count from the layer lists of docs/original.md (no bias before a norm)."""
    conv = C * C * 9 + norm_params(norm_cfg, C)  # one 3x3 conv + its norm
    two_fcs = FLAT * FC + FC * FC + 2 * norm_params(norm_cfg, FC)
    if preset == "Shared2FCGNBBoxHead":
        return two_fcs + predictors(FC, FC)
    if preset == "SepHBBoxHead":
        return 8 * conv + predictors(FLAT, FLAT)
    return two_fcs + 4 * conv + predictors(FC, FLAT)


@pytest.mark.parametrize("norm_cfg", [BN, EVONORM], ids=["BN", "EvoNormS0"])
@pytest.mark.parametrize("preset", PRESETS)
def test_preset_sizes_at_coco_scale(preset, norm_cfg):
    act_cfg = None if norm_cfg is EVONORM else RELU
    head = build_head(dict(type=preset, norm_cfg=norm_cfg, act_cfg=act_cfg))
    assert sum(p.numel() for p in head.parameters()) == expected_params(preset, norm_cfg)
    cls_score, bbox_pred = head(torch.randn(3, C, S, S))
    assert cls_score.shape == (3, NUM_CLASSES + 1)
    assert bbox_pred.shape == (3, 4 * NUM_CLASSES)
    # flatten, no average pooling, where a branch ends in convs
    conv_branch_in = {"Shared2FCGNBBoxHead": FC, "SepHBBoxHead": FLAT, "SepHV2BBoxHead": FLAT}
    assert head.fc_reg.in_features == conv_branch_in[preset]


def test_preset_layouts():
    baseline = build_head(dict(type="Shared2FCGNBBoxHead"), in_channels=32, fc_out_channels=64)
    assert len(baseline.shared_fcs) == 2 and not baseline.cls_convs and not baseline.reg_convs
    _, gn, act = baseline.shared_fcs[0]
    assert isinstance(gn, nn.GroupNorm) and gn.num_groups == 32 and isinstance(act, nn.ReLU)
    seph = SepHBBoxHead(in_channels=32, conv_out_channels=32, num_classes=3)
    assert (len(seph.cls_convs), len(seph.reg_convs)) == (4, 4)
    assert not (seph.shared_convs or seph.shared_fcs or seph.cls_fcs or seph.reg_fcs)
    sephv2 = SepHV2BBoxHead(in_channels=32, conv_out_channels=32, fc_out_channels=64)
    assert (len(sephv2.cls_fcs), len(sephv2.reg_convs)) == (2, 4)
    assert not (sephv2.shared_convs or sephv2.shared_fcs or sephv2.cls_convs or sephv2.reg_fcs)
    assert isinstance(sephv2.cls_fcs[0][1], EvoNormS0)  # 2-D EvoNorm on the FCs


def test_bn_on_fcs_is_1d_and_no_bias_before_a_norm():
    head = tiny("SepHV2BBoxHead", (BN, RELU))
    assert isinstance(head.cls_fcs[0][1], nn.BatchNorm1d)
    assert isinstance(head.reg_convs[0][1], nn.BatchNorm2d)
    for block in [*head.cls_fcs, *head.reg_convs]:
        assert block[0].bias is None
    assert head.fc_cls.bias is not None and head.fc_reg.bias is not None
    plain = tiny("SepHV2BBoxHead", (None, RELU))
    assert all(block[0].bias is not None for block in [*plain.cls_fcs, *plain.reg_convs])
    assert all(len(block) == 2 for block in [*plain.cls_fcs, *plain.reg_convs])  # layer, act


@pytest.mark.parametrize("preset", PRESETS)
@pytest.mark.parametrize("norm_act", list(NORM_ACTS), ids=list(NORM_ACTS))
def test_forward_order_layer_norm_act(preset, norm_act):
    """Every hidden conv/FC runs, then its norm, then the activation (none for EvoNorm)."""
    norm_cfg, act_cfg = NORM_ACTS[norm_act]
    head = tiny(preset, (norm_cfg, act_cfg)).train()
    hidden = [m for m in head.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    hidden = [m for m in hidden if m is not head.fc_cls and m is not head.fc_reg]
    assert len(hidden) == {"Shared2FCGNBBoxHead": 2, "SepHBBoxHead": 8, "SepHV2BBoxHead": 6}[preset]
    order = call_order(head, torch.randn(4, 32, S, S))
    assert_layer_norm_act(order, hidden, act=act_cfg is not None)


@pytest.mark.parametrize("preset", PRESETS)
def test_no_activation_after_evonorm(preset):
    assert_no_act_after_evonorm(tiny(preset), torch.randn(4, 32, S, S))


def test_activation_is_dropped_after_evonorm_only():
    with_relu = dict(in_channels=32, conv_out_channels=32, act_cfg=RELU)
    assert SepHBBoxHead(norm_cfg=EVONORM, **with_relu).act_cfg is None
    # EvoNorm-S0 without its own non-linearity, or BN, keep the activation
    no_gate = SepHBBoxHead(norm_cfg=dict(EVONORM, apply_act=False), **with_relu)
    assert isinstance(no_gate.cls_convs[0].act, nn.ReLU)
    assert isinstance(SepHBBoxHead(norm_cfg=BN, in_channels=32).reg_convs[3].act, nn.ReLU)


def test_conv_after_shared_fc_is_refused():
    with pytest.raises(ValueError, match="cannot follow shared FCs"):
        NormConvFCBBoxHead(num_shared_fcs=1, num_reg_convs=1)


def test_xavier_uniform_init_with_zero_bias():
    head = tiny("SepHV2BBoxHead", (GN, RELU))
    layers = [m for m in head.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert len(layers) == 2 + 4 + 2  # FCs, convs, predictors
    for layer in layers:
        assert_xavier_uniform(layer)


def test_avg_pool_head_without_layers_is_the_c3_predictor():
    """All branches empty + ``with_avg_pool``: mmdet's C3/C4 ``BBoxHead`` layout."""
    head = build_head(dict(type="NormConvFCBBoxHead"), in_channels=64, with_avg_pool=True)
    x = torch.randn(5, 64, S, S)
    cls_score, bbox_pred = head(x)
    pooled = x.mean((2, 3))
    torch.testing.assert_close(cls_score, head.fc_cls(pooled))
    torch.testing.assert_close(bbox_pred, head.fc_reg(pooled))
    assert head(torch.zeros(0, 64, S, S))[0].shape == (0, NUM_CLASSES + 1)


def test_all_parameters_get_gradients():
    head = tiny("SepHV2BBoxHead", (BN, RELU)).train()
    cls_score, bbox_pred = head(torch.randn(6, 32, S, S))
    (cls_score.square().sum() + bbox_pred.square().sum()).backward()
    for name, param in head.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name


@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("preset", PRESETS)
@pytest.mark.parametrize("norm_act", list(NORM_ACTS), ids=list(NORM_ACTS))
def test_zero_rois(preset, norm_act, train):
    head = tiny(preset, NORM_ACTS[norm_act]).train(train)
    x = torch.zeros(0, 32, S, S, requires_grad=True)
    cls_score, bbox_pred = head(x)
    assert cls_score.shape == (0, 4) and bbox_pred.shape == (0, 12)
    (cls_score.sum() + bbox_pred.sum()).backward()
    assert x.grad.shape == x.shape


@pytest.mark.parametrize("preset", PRESETS)
@pytest.mark.parametrize("norm_act", list(NORM_ACTS), ids=list(NORM_ACTS))
def test_single_roi(preset, norm_act):
    """One RoI: fine in eval mode; in training too, except BN over FC vectors.

    BatchNorm1d cannot normalise a batch of one vector in training (PyTorch raises);
    convs keep 7x7 = 49 values per channel, so BN still works for seph.
    """
    head = tiny(preset, NORM_ACTS[norm_act])
    x = torch.randn(1, 32, S, S)
    outputs = head.eval()(x)
    assert [o.shape for o in outputs] == [(1, 4), (1, 12)]
    if norm_act == "BN+ReLU" and preset != "SepHBBoxHead":
        with pytest.raises(ValueError, match="more than 1 value per channel"):
            head.train()(x)
    else:
        assert all(torch.isfinite(o).all() for o in head.train()(x))


def rois_with_context(context: torch.Tensor) -> torch.Tensor:
    first = torch.ones(1, 32, S, S)
    return torch.cat([first, context])


def test_seph_bn_uses_batch_statistics_over_rois_in_training():
    head = tiny("SepHBBoxHead", (dict(BN, momentum=0.003, eps=1e-4), RELU)).train()
    bn = head.cls_convs[0][1]
    assert torch.all(bn.running_mean == 0)
    a = head(rois_with_context(torch.randn(5, 32, S, S)))[0][0]
    assert bn.num_batches_tracked == 1 and bn.running_mean.abs().sum() > 0
    b = head(rois_with_context(3 * torch.randn(5, 32, S, S) + 1))[0][0]
    assert not torch.allclose(a, b, atol=1e-4)  # RoI 0 depends on the other RoIs
    head.eval()
    a = head(rois_with_context(torch.randn(5, 32, S, S)))[0][0]
    b = head(rois_with_context(3 * torch.randn(5, 32, S, S) + 1))[0][0]
    torch.testing.assert_close(a, b)  # running statistics in eval mode


def test_seph_evonorm_is_per_roi_in_training():
    head = tiny("SepHBBoxHead").train()
    a = head(rois_with_context(torch.randn(5, 32, S, S)))[0][0]
    b = head(rois_with_context(3 * torch.randn(5, 32, S, S) + 1))[0][0]
    torch.testing.assert_close(a, b)


def test_shared2fc_gn_matches_a_functional_reference():
    """FC (no bias) -> GN(32) -> ReLU, twice, then the two predictors (the baseline head)."""
    head = build_head(dict(type="Shared2FCGNBBoxHead"), in_channels=32, fc_out_channels=64)
    x = torch.randn(4, 32, S, S)
    y = x.flatten(1)
    for block in head.shared_fcs:
        gn = block[1]
        y = torch.relu(nn.functional.group_norm(y @ block[0].weight.T, 32, gn.weight, gn.bias))
    cls_score, bbox_pred = head(x)
    torch.testing.assert_close(cls_score, head.fc_cls(y))
    torch.testing.assert_close(bbox_pred, head.fc_reg(y))


def test_presets_are_registered():
    for name, cls in [
        ("NormConvFCBBoxHead", NormConvFCBBoxHead),
        ("Shared2FCGNBBoxHead", Shared2FCGNBBoxHead),
        ("SepHBBoxHead", SepHBBoxHead),
        ("SepHV2BBoxHead", SepHV2BBoxHead),
    ]:
        assert MODELS.get(name) is cls
