"""ScoreGatedRoIHead: the regression tower skips RoIs below score_thr, detections unchanged.

Each test builds one tiny sephv2 Mask R-CNN twice with the same weights, once with
mmdet's ``StandardRoIHead`` (the reference) and once with ``ScoreGatedRoIHead``, and
compares the detections at a threshold chosen from the model's own proposal scores:
some RoIs pass, none pass, all pass.
"""

from __future__ import annotations

import copy

import pytest
import torch
from roi_heads_helpers import EVONORM, RELU

from mmdet_evonorm.models.roi_heads.bbox_heads import SepHV2BBoxHead
from mmdet_evonorm.testing import WIDTH, build_detector, demo_batch, get_tiny_mask_rcnn_cfg

NUM_CLASSES = 3
_TINY = get_tiny_mask_rcnn_cfg(num_classes=NUM_CLASSES)  # reading mmdet's base config is slow


def batch():
    return demo_batch(2, [(3, 64, 64), (3, 64, 80)], num_classes=NUM_CLASSES)


def predict_only(model, data):
    model.eval()
    with torch.no_grad():
        return model(**model.data_preprocessor(data, False), mode="predict")


def sephv2_cfg(roi_head: str, top1: bool):
    cfg = copy.deepcopy(_TINY)
    cfg.roi_head.type = roi_head
    cfg.roi_head.bbox_head.update(
        type="SepHV2BBoxHead", norm_cfg=EVONORM, act_cfg=RELU, conv_out_channels=WIDTH
    )
    cfg.roi_head.mask_head.update(type="NormFCNMaskHead", norm_cfg=EVONORM)
    cfg.test_cfg.rcnn.top1_per_proposal = top1
    return cfg


def twins(top1: bool, score_thr: float | None = None):
    """(reference, gated) detectors with identical weights."""
    torch.manual_seed(0)
    reference = build_detector(sephv2_cfg("StandardRoIHead", top1))
    reference.init_weights()
    gated = build_detector(sephv2_cfg("ScoreGatedRoIHead", top1))
    gated.load_state_dict(reference.state_dict())
    for model in (reference, gated):
        if score_thr is not None:
            model.roi_head.test_cfg.score_thr = score_thr
    return reference, gated


class RegTowerRows:
    """Counts the RoIs the regression tower and the classifier see (forward hooks)."""

    def __init__(self, head: SepHV2BBoxHead) -> None:
        self.reg = self.cls = 0
        self.best = []  # best foreground softmax score of every RoI
        head.reg_convs[0].register_forward_hook(self._count_reg)
        head.fc_cls.register_forward_hook(self._count_cls)

    def _count_reg(self, _module, args, _out):
        self.reg += len(args[0])

    def _count_cls(self, _module, _args, out):
        self.cls += len(out)
        self.best.append(out.softmax(-1)[:, :-1].amax(1))


def best_scores(top1: bool) -> torch.Tensor:
    reference, _ = twins(top1)
    rows = RegTowerRows(reference.roi_head.bbox_head)
    predict_only(reference, batch())
    return torch.cat(rows.best)


def assert_same_detections(reference, gated, data):
    expected, actual = predict_only(reference, data), predict_only(gated, data)
    for exp, act in zip(expected, actual, strict=True):
        exp, act = exp.pred_instances, act.pred_instances
        assert act.labels.tolist() == exp.labels.tolist()
        torch.testing.assert_close(act.bboxes, exp.bboxes, rtol=1e-5, atol=1e-4)
        torch.testing.assert_close(act.scores, exp.scores, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(act.masks, exp.masks)
    return sum(len(a.pred_instances) for a in actual)


@pytest.mark.parametrize("top1", [False, True], ids=["per-class", "top1"])
@pytest.mark.parametrize("which", ["some", "none", "all"])
def test_gated_detections_equal_the_reference(top1, which):
    best = best_scores(top1)
    score_thr = {
        "some": best.median().item(),  # about half the RoIs pass
        "none": best.max().item() + 1e-5,  # no RoI passes, none within the margin
        "all": 0.0,
    }[which]
    reference, gated = twins(top1, score_thr)
    rows = RegTowerRows(gated.roi_head.bbox_head)
    num_dets = assert_same_detections(reference, gated, batch())
    passing = int((best > score_thr).sum())
    assert rows.cls == len(best)  # the classifier still sees every RoI
    assert passing <= rows.reg <= int((best > score_thr - 1e-6).sum())
    if which == "some":
        assert 0 < rows.reg < rows.cls and num_dets > 0
    elif which == "none":
        assert rows.reg == 0 and num_dets == 0
    else:
        assert rows.reg == rows.cls and num_dets > 0


def test_skipped_rois_never_reach_the_output():
    """Poison the skipped RoIs' deltas: a leak would give non-finite boxes."""
    best = best_scores(top1=False)
    reference, gated = twins(top1=False, score_thr=best.median().item())
    head = gated.roi_head.bbox_head
    original = head._gated_bbox_pred

    def poisoned(x, cls_score, score_thr):
        deltas = original(x, cls_score, score_thr)
        live = cls_score.softmax(-1)[:, :-1].amax(1) > score_thr - 1e-6
        deltas[~live] = float("nan")
        return deltas

    head._gated_bbox_pred = poisoned
    assert assert_same_detections(reference, gated, batch()) > 0


def test_training_and_tensor_mode_run_the_whole_tower():
    _, gated = twins(top1=False, score_thr=1.0)  # nothing could pass
    rows = RegTowerRows(gated.roi_head.bbox_head)
    data = batch()
    gated.train()
    losses = gated(**gated.data_preprocessor(data, True), mode="loss")
    assert rows.reg == rows.cls > 0 and torch.isfinite(losses["loss_bbox"])
    rows.reg = rows.cls = 0
    gated.eval()
    with torch.no_grad():
        outputs = gated(**gated.data_preprocessor(data, False), mode="tensor")
    assert rows.reg == rows.cls > 0 and outputs


def test_head_gate_applies_only_inside_the_context_and_in_eval_mode():
    head = SepHV2BBoxHead(in_channels=32, conv_out_channels=32, fc_out_channels=256, num_classes=2)
    head.init_weights()
    head.eval()
    x = torch.randn(12, 32, 7, 7)
    cls_full, deltas_full = head(x)
    best = cls_full.softmax(-1)[:, :-1].amax(1)
    score_thr = best.median().item()
    with head.score_gated(score_thr):
        cls_gated, deltas_gated = head(x)
    torch.testing.assert_close(cls_gated, cls_full)
    live = best > score_thr - 1e-6
    assert 0 < live.sum() < len(x)
    torch.testing.assert_close(deltas_gated[live], deltas_full[live], rtol=1e-5, atol=1e-6)
    assert not deltas_gated[~live].any()
    assert head._score_gate is None  # reset on exit
    head.train()
    with head.score_gated(1.0):
        _, deltas_train = head(x)
    assert deltas_train.abs().sum() > 0  # training ignores the gate
