"""BatchStatsBN and ``test_cfg.rcnn.bn_stats='batch'``: test-time batch statistics."""

from __future__ import annotations

import copy

import pytest
import torch
from mmengine.structures import InstanceData
from torch import nn

from mmdet_evonorm.models.layers import BatchStatsBN, convert_to_batch_stats
from mmdet_evonorm.testing import build_detector, demo_batch, get_tiny_mask_rcnn_cfg


def trained_bn(cls=nn.BatchNorm2d, channels: int = 4) -> nn.Module:
    torch.manual_seed(0)
    bn = cls(channels)
    with torch.no_grad():
        bn.weight.uniform_(0.5, 1.5)
        bn.bias.uniform_(-1, 1)
        bn.running_mean.uniform_(-1, 1)
        bn.running_var.uniform_(0.5, 2)
    return bn


def test_eval_uses_the_statistics_of_the_input():
    bn = convert_to_batch_stats(trained_bn()).eval()
    x = torch.randn(5, 4, 7, 7) * 3 + 2
    mean = x.mean((0, 2, 3), keepdim=True)
    var = x.var((0, 2, 3), unbiased=False, keepdim=True)
    expected = (x - mean) / torch.sqrt(var + bn.eps) * bn.weight.view(1, -1, 1, 1)
    expected = expected + bn.bias.view(1, -1, 1, 1)
    before = bn.running_mean.clone(), bn.running_var.clone(), bn.num_batches_tracked.clone()
    torch.testing.assert_close(bn(x), expected, rtol=1e-5, atol=1e-5)
    after = bn.running_mean, bn.running_var, bn.num_batches_tracked
    assert all(torch.equal(a, b) for a, b in zip(before, after, strict=True))  # no EMA update


def test_training_is_plain_batchnorm_and_keys_are_kept():
    reference = trained_bn()
    converted = convert_to_batch_stats(copy.deepcopy(reference))
    assert isinstance(converted, BatchStatsBN)
    assert converted.state_dict().keys() == reference.state_dict().keys()
    x = torch.randn(3, 4, 5, 5, requires_grad=True)
    y_ref, y = reference.train()(x), converted.train()(x)
    torch.testing.assert_close(y, y_ref, rtol=0, atol=0)
    torch.testing.assert_close(converted.running_mean, reference.running_mean, rtol=0, atol=0)
    (grad,) = torch.autograd.grad(y.sum(), x)
    (grad_ref,) = torch.autograd.grad(y_ref.sum(), x)
    torch.testing.assert_close(grad, grad_ref, rtol=0, atol=0)


@pytest.mark.parametrize("shape", [(0, 4, 7, 7), (1, 4), (0, 4)])
def test_zero_rois_and_one_value_per_channel_use_the_running_statistics(shape):
    reference = trained_bn(nn.BatchNorm1d if len(shape) == 2 else nn.BatchNorm2d).eval()
    bn = convert_to_batch_stats(copy.deepcopy(reference)).eval()
    x = torch.randn(shape)
    torch.testing.assert_close(bn(x), reference(x), rtol=0, atol=0)


def test_one_roi_of_7x7_uses_its_49_values():
    bn = convert_to_batch_stats(trained_bn()).eval()
    x = torch.randn(1, 4, 7, 7)
    y = bn(x)
    torch.testing.assert_close(y.mean((0, 2, 3)), bn.bias, rtol=0, atol=1e-5)


def test_convert_shares_parameters_and_nests():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), trained_bn(), nn.Sequential(nn.BatchNorm1d(4)))
    weight = model[1].weight
    convert_to_batch_stats(model)
    assert isinstance(model[1], BatchStatsBN) and isinstance(model[2][0], BatchStatsBN)
    assert model[1].weight is weight


def bn_roi_head_detector(bn_stats: str):
    cfg = get_tiny_mask_rcnn_cfg()
    cfg.roi_head.type = "ScoreGatedRoIHead"
    cfg.roi_head.bbox_head.update(
        type="ConvFCBBoxHead", num_shared_convs=2, num_shared_fcs=1, conv_out_channels=32,
        norm_cfg=dict(type="BN"),
    )  # fmt: skip
    cfg.roi_head.mask_head.norm_cfg = dict(type="BN")
    cfg.test_cfg.rcnn.update(bn_stats=bn_stats, score_thr=0.0)
    torch.manual_seed(0)
    return build_detector(cfg)


def test_roi_head_switch_converts_only_the_heads_and_loads_bn_checkpoints():
    running = bn_roi_head_detector("running")
    batch = bn_roi_head_detector("batch")
    batch.load_state_dict(running.state_dict())  # same keys: a BN checkpoint loads
    heads = [batch.roi_head.bbox_head, batch.roi_head.mask_head]
    norms = [
        m for h in heads for m in h.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)
    ]
    assert len(norms) == 6 and all(isinstance(m, BatchStatsBN) for m in norms)
    assert not any(isinstance(m, BatchStatsBN) for m in batch.backbone.modules())
    with pytest.raises(ValueError, match="bn_stats='ema'"):
        bn_roi_head_detector("ema")


@pytest.mark.parametrize("num_rois", [0, 1, 5])
def test_predict_with_batch_statistics_on_zero_one_and_several_rois(num_rois):
    model = bn_roi_head_detector("batch").eval()
    data = model.data_preprocessor(demo_batch(1, [(3, 128, 128)]), False)
    feats = model.extract_feat(data["inputs"])
    torch.manual_seed(1)
    xy = torch.rand(num_rois, 2) * 80
    proposals = InstanceData(
        bboxes=torch.cat([xy, xy + 30], 1),
        scores=torch.rand(num_rois),
        labels=torch.zeros(num_rois, dtype=torch.long),
    )
    with torch.no_grad():
        (result,) = model.roi_head.predict(feats, [proposals], data["data_samples"], rescale=False)
    assert len(result.bboxes) == len(result.masks) <= num_rois * 3
    assert torch.isfinite(result.scores).all()
    if num_rois == 5:
        running = bn_roi_head_detector("running").eval()
        running.load_state_dict(model.state_dict())
        with torch.no_grad():
            feats = running.extract_feat(data["inputs"])
            (other,) = running.roi_head.predict(
                feats, [proposals], data["data_samples"], rescale=False
            )
        assert not torch.equal(result.scores, other.scores)  # the statistics differ
