"""The RoI heads inside the tiny R18 Mask R-CNN: loss, backward, predict, edge cases."""

from __future__ import annotations

import copy

import pytest
import torch
from roi_heads_helpers import BN, EVONORM, GN, RELU

from mmdet_evonorm.testing import (
    WIDTH,
    build_detector,
    demo_batch,
    get_tiny_mask_rcnn_cfg,
    run_loss_and_predict,
)

NUM_CLASSES = 3
SHAPES = [(3, 64, 64), (3, 64, 80)]
RES5_PLANES = 16  # tiny res5: 16 -> 64 channels
_TINY = get_tiny_mask_rcnn_cfg(num_classes=NUM_CLASSES)  # reading mmdet's base config is slow


def tiny_cfg():
    return copy.deepcopy(_TINY)


def fpn_row(box_head: str, box_norm: dict, mask_norm: dict, top1: bool = True):
    """B/C rows: P3-P6 RoIs, a NormConvFCBBoxHead preset, a NormFCNMaskHead."""
    cfg = tiny_cfg()
    roi = cfg.roi_head
    roi.bbox_head.update(type=box_head, norm_cfg=box_norm, act_cfg=RELU, conv_out_channels=WIDTH)
    roi.mask_head.update(type="NormFCNMaskHead", norm_cfg=mask_norm, act_cfg=RELU)
    cfg.test_cfg.rcnn.top1_per_proposal = top1
    return cfg


def c3_row():
    """A rows: P3 7x7 RoIs -> shared stride-1 res5 -> avg-pool box head / 0-conv mask head."""
    cfg = tiny_cfg()
    roi = cfg.roi_head
    res5_out = 4 * RES5_PLANES
    roi.bbox_roi_extractor.featmap_strides = [8]  # takes the first map only: P3
    roi.shared_head = dict(type="Res5SharedHead", in_channels=WIDTH, planes=RES5_PLANES)
    roi.bbox_head.update(type="NormConvFCBBoxHead", with_avg_pool=True, in_channels=res5_out)
    roi.mask_roi_extractor = None  # mask branch reuses the res5 output
    roi.mask_head.update(
        type="NormFCNMaskHead", num_convs=0, in_channels=res5_out, roi_feat_size=7, norm_cfg=BN
    )
    cfg.train_cfg.rcnn.mask_size = 14
    cfg.test_cfg.rcnn.top1_per_proposal = True
    return cfg


ROWS = {
    "baseline-GN/mask-BN": lambda: fpn_row("Shared2FCGNBBoxHead", GN, BN),
    "seph-EvoNorm/mask-EvoNorm": lambda: fpn_row("SepHBBoxHead", EVONORM, EVONORM),
    "seph-BN/mask-BN": lambda: fpn_row("SepHBBoxHead", BN, BN),
    "sephv2-EvoNorm/mask-EvoNorm": lambda: fpn_row("SepHV2BBoxHead", EVONORM, EVONORM),
    "sephv2-BN/mask-BN": lambda: fpn_row("SepHV2BBoxHead", BN, BN, top1=False),
    "C3-res5": c3_row,
}
# Zero/one RoI through every preset and norm: test_norm_convfc_bbox_head.py.
EDGE_ROWS = ["sephv2-EvoNorm/mask-EvoNorm", "C3-res5"]


def build(row: str, train_rpn_min_size: float = -1, **test_cfg):
    cfg = ROWS[row]()
    cfg.train_cfg.rpn_proposal.min_bbox_size = train_rpn_min_size  # huge: no proposals
    for stage, update in test_cfg.items():
        cfg.test_cfg[stage].update(update)
    torch.manual_seed(0)
    return build_detector(cfg)


def batch(num_items=None, batch_size=2):
    """Two images for the main runs; one (cheaper) for the edge cases."""
    return demo_batch(batch_size, SHAPES[:batch_size], num_items, num_classes=NUM_CLASSES)


def total_loss(losses: dict) -> torch.Tensor:
    values = [
        v for k, vs in losses.items() if "loss" in k for v in (vs if isinstance(vs, list) else [vs])
    ]
    for value in values:
        assert torch.isfinite(value).all()
    return sum(v.sum() for v in values)


def assert_typed_predictions(predictions, batch_data) -> None:
    for sample, data in zip(predictions, batch_data["data_samples"], strict=True):
        pred = sample.pred_instances
        n = len(pred.bboxes)
        assert pred.bboxes.shape == (n, 4) and pred.bboxes.dtype == torch.float32
        assert pred.scores.shape == (n,) and pred.labels.dtype == torch.long
        assert pred.masks.shape == (n, *data.ori_shape) and pred.masks.dtype == torch.bool
        assert ((pred.labels >= 0) & (pred.labels < NUM_CLASSES)).all()


def loss_only(model, batch_data) -> dict:
    model.train()
    data = model.data_preprocessor(batch_data, True)
    return model(**data, mode="loss")


def predict_only(model, batch_data):
    model.eval()
    with torch.no_grad():
        return model(**model.data_preprocessor(batch_data, False), mode="predict")


@pytest.mark.parametrize("row", list(ROWS))
def test_loss_backward_predict(row):
    model = build(row)
    data = batch()
    losses, predictions = run_loss_and_predict(model, data)
    assert {"loss_cls", "loss_bbox", "loss_mask"} <= set(losses)
    total_loss(losses).backward()
    roi_head = model.roi_head
    heads = [roi_head.bbox_head, roi_head.mask_head]
    heads += [roi_head.shared_head] if roi_head.with_shared_head else []
    for head in heads:
        grads = [p.grad for p in head.parameters()]
        assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert_typed_predictions(predictions, data)


@pytest.mark.parametrize("row", EDGE_ROWS)
def test_images_without_ground_truth(row):
    model = build(row)
    losses = loss_only(model, batch(num_items=[0], batch_size=1))
    total_loss(losses).backward()
    assert losses["loss_bbox"] == 0 and losses["loss_mask"] == 0


@pytest.mark.parametrize("row", EDGE_ROWS)
def test_zero_rois_in_training(row):
    """No ground truth and every proposal filtered away: the RoI heads see 0 RoIs."""
    model = build(row, train_rpn_min_size=1e5)
    losses = loss_only(model, batch(num_items=[0], batch_size=1))
    assert "loss_cls" not in losses  # mmdet's convention for zero RoIs
    total_loss(losses).backward()
    assert losses["loss_bbox"] == 0 and losses["loss_mask"] == 0


@pytest.mark.parametrize("row", EDGE_ROWS)
def test_single_roi_in_training(row):
    """One image, one ground truth, no proposals: the single RoI is the GT box."""
    model = build(row, train_rpn_min_size=1e5)
    losses = loss_only(model, batch(num_items=[1], batch_size=1))
    total_loss(losses).backward()
    assert losses["acc"].numel() == 1


@pytest.mark.parametrize("row", EDGE_ROWS)
def test_zero_rois_at_test_time(row):
    model = build(row, rpn=dict(min_bbox_size=1e5))
    data = batch(batch_size=1)
    predictions = predict_only(model, data)
    assert all(len(p.pred_instances) == 0 for p in predictions)
    assert_typed_predictions(predictions, data)


@pytest.mark.parametrize("row", EDGE_ROWS)
def test_single_proposal_gives_at_most_one_detection_with_top1(row):
    # one proposal per image, and every class score passes the threshold
    model = build(row, rpn=dict(max_per_img=1), rcnn=dict(score_thr=0.0))
    data = batch(batch_size=1)
    predictions = predict_only(model, data)
    assert all(len(p.pred_instances) == 1 for p in predictions)
    assert_typed_predictions(predictions, data)
