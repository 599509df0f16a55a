"""Tiny Mask R-CNN (R18) with each neck stage: loss, backward, predict, routing."""

from __future__ import annotations

import pytest
import torch
from mmengine.model import Sequential

from mmdet_evonorm.models.necks import (
    BalanceStage,
    FusionStage,
    GatedNonLocalBlock,
    NonLocalStage,
)
from mmdet_evonorm.testing import WIDTH, build_detector, demo_batch, get_tiny_mask_rcnn_cfg

BACKBONE_CHANNELS = [128, 256, 512]  # R18 C3-C5
NON_LOCAL = dict(type="NonLocalStage", in_channels=BACKBONE_CHANNELS)
FUSION = dict(type="FusionStage", in_channels=WIDTH)
BALANCE = dict(type="BalanceStage", in_channels=WIDTH)


def tiny_cfg(pre: dict | None = None, post: dict | None = None):
    """Tiny Mask R-CNN with ``neck=[pre, FPN, post]``; F3 routing when post is fusion."""
    cfg = get_tiny_mask_rcnn_cfg()
    cfg.neck = [stage for stage in (pre, cfg.neck, post) if stage]
    cfg.test_cfg.rcnn.max_per_img = 20  # fewer masks to paste: faster predict
    if post is FUSION:
        cfg.rpn_head.update(type="RoutedRPNHead", start_level=1)
        roi = cfg.roi_head
        for extractor in (roi.bbox_roi_extractor, roi.mask_roi_extractor):
            extractor.update(out_channels=2 * WIDTH, featmap_strides=[8])
        roi.bbox_head.in_channels = roi.mask_head.in_channels = 2 * WIDTH
    return cfg


ROWS = {
    "nonlocal": tiny_cfg(pre=NON_LOCAL),
    "fusion": tiny_cfg(post=FUSION),
    "balance": tiny_cfg(post=BALANCE),
    "nonlocal+fusion": tiny_cfg(pre=NON_LOCAL, post=FUSION),
}
STAGE_TYPES = (NonLocalStage, FusionStage, BalanceStage)


def build(cfg):
    torch.manual_seed(0)
    model = build_detector(cfg)
    for module in model.modules():  # open the zero-initialised non-local gates
        if isinstance(module, GatedNonLocalBlock):
            module.gamma.data.fill_(0.5)
    return model


@pytest.mark.parametrize("row", list(ROWS))
def test_loss_backward_and_predict(row, assert_all_params_get_grad):
    model = build(ROWS[row])
    assert isinstance(model.neck, Sequential)  # mmengine builds a neck list so
    stages = [m for m in model.neck if isinstance(m, STAGE_TYPES)]
    assert len(stages) == row.count("+") + 1

    batch = demo_batch()
    model.train()
    losses = model(**model.data_preprocessor(batch, True), mode="loss")
    loss, _ = model.parse_losses(losses)
    assert torch.isfinite(loss)
    assert {"loss_rpn_cls", "loss_cls", "loss_mask"} <= set(losses)
    loss.backward()
    for stage in stages:
        assert_all_params_get_grad(stage)

    model.eval()
    with torch.no_grad():
        results = model(**model.data_preprocessor(batch, False), mode="predict")
    assert len(results) == 2
    for result, inputs in zip(results, batch["data_samples"], strict=True):
        pred = result.pred_instances
        assert pred.bboxes.shape[1] == 4 and len(pred.scores) == len(pred.bboxes)
        assert pred.masks.shape[1:] == inputs.ori_shape


@pytest.mark.parametrize("mode", ["loss", "predict"])
def test_rpn_reads_p3_to_p6_and_roi_extractors_read_f3(mode):
    model = build(ROWS["nonlocal+fusion"])
    seen = {"rpn": [], "bbox": [], "mask": []}
    hooks = [
        model.neck.register_forward_hook(lambda _m, _i, out: seen.__setitem__("neck", out)),
        model.rpn_head.rpn_conv.register_forward_hook(
            lambda _m, args, _o: seen["rpn"].append(args[0])
        ),
        model.roi_head.bbox_roi_extractor.register_forward_hook(
            lambda _m, args, _o: seen["bbox"].append(args[0])
        ),
        model.roi_head.mask_roi_extractor.register_forward_hook(
            lambda _m, args, _o: seen["mask"].append(args[0])
        ),
    ]
    batch = demo_batch()
    model.train(mode == "loss")
    with torch.set_grad_enabled(mode == "loss"):
        model(**model.data_preprocessor(batch, mode == "loss"), mode=mode)
    for hook in hooks:
        hook.remove()

    f3, *p_levels = seen["neck"]
    assert f3.shape[1] == 2 * WIDTH and len(p_levels) == 4
    # RPN: one call per level, exactly the tensors P3, P4, P5, P6 (strides 8-64)
    assert len(seen["rpn"]) == 4
    assert all(got is want for got, want in zip(seen["rpn"], p_levels, strict=True))
    heights = [p.shape[2] for p in seen["rpn"]]
    assert heights == [-(-128 // s) for s in (8, 16, 32, 64)]
    # RoI extractors (box and mask): F3 alone
    for key in ("bbox", "mask"):
        assert seen[key], f"{key} extractor never ran"
        for feats in seen[key]:
            assert len(feats) == 1 and feats[0] is f3
