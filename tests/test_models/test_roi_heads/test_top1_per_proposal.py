"""Top-1-class inference per proposal (docs/original.md, "Inference") against a direct reference."""

from __future__ import annotations

import pytest
import torch
from mmengine.config import ConfigDict
from mmengine.structures import InstanceData

from mmdet_evonorm.models.roi_heads.bbox_heads import NormConvFCBBoxHead

NUM_CLASSES = 3
META = dict(img_shape=(100, 100), scale_factor=(2.0, 2.0))


def head() -> NormConvFCBBoxHead:
    return NormConvFCBBoxHead(in_channels=8, num_classes=NUM_CLASSES, with_avg_pool=True)


def cfg(top1: bool = True, score_thr: float = 0.05, max_per_img: int = 100) -> ConfigDict:
    return ConfigDict(
        score_thr=score_thr,
        nms=dict(type="nms", iou_threshold=0.5),
        max_per_img=max_per_img,
        top1_per_proposal=top1,
    )


def predict(boxes, probs, rcnn_test_cfg, rescale=False) -> InstanceData:
    """Zero deltas, so the decoded box of every class is the RoI itself."""
    rois = torch.cat([torch.zeros(len(boxes), 1), torch.tensor(boxes, dtype=torch.float)], 1)
    logits = torch.tensor(probs).log()
    deltas = torch.zeros(len(boxes), 4 * NUM_CLASSES)
    return head().predict_by_feat(
        (rois,), (logits,), (deltas,), [META], rcnn_test_cfg=rcnn_test_cfg, rescale=rescale
    )[0]


def reference(boxes, probs, score_thr):
    """Top-1 fg class per proposal, threshold, sorted by score (boxes do not overlap)."""
    dets = []
    for box, p in zip(boxes, probs, strict=True):
        score = max(p[:NUM_CLASSES])
        if score > score_thr:
            dets.append((score, p.index(score), box))
    return sorted(dets, key=lambda d: -d[0])


DISJOINT = [[0, 0, 10, 10], [20, 20, 40, 40], [50, 50, 70, 90]]
PROBS = [  # classes 0-2, background last
    [0.45, 0.40, 0.05, 0.10],  # two classes above the threshold
    [0.02, 0.03, 0.90, 0.05],
    [0.01, 0.02, 0.03, 0.94],  # background: nothing above the threshold
]


def test_one_detection_per_proposal_with_its_best_class():
    result = predict(DISJOINT, PROBS, cfg())
    expected = reference(DISJOINT, PROBS, 0.05)
    assert len(result) == len(expected) == 2
    torch.testing.assert_close(result.scores, torch.tensor([d[0] for d in expected]))
    assert result.labels.tolist() == [d[1] for d in expected]
    torch.testing.assert_close(result.bboxes, torch.tensor([d[2] for d in expected]).float())


def test_default_keeps_every_class_above_the_threshold():
    result = predict(DISJOINT, PROBS, cfg(top1=False))
    assert sorted(result.labels.tolist()) == [0, 1, 2]  # proposal 0 twice
    assert result.labels.dtype == torch.long


def test_class_wise_nms_after_the_top1_choice():
    same_box = [[0, 0, 30, 30]] * 3
    probs = [[0.8, 0.1, 0.05, 0.05], [0.7, 0.2, 0.05, 0.05], [0.1, 0.6, 0.2, 0.1]]
    result = predict(same_box, probs, cfg())
    # two class-0 duplicates -> one; the class-1 box is another class and stays
    assert result.labels.tolist() == [0, 1]
    torch.testing.assert_close(result.scores, torch.tensor([0.8, 0.6]))


def test_max_per_img_and_rescale():
    result = predict(DISJOINT, PROBS, cfg(max_per_img=1), rescale=True)
    assert len(result) == 1 and result.labels.tolist() == [2]  # the best detection
    torch.testing.assert_close(result.bboxes, torch.tensor([[10.0, 10.0, 20.0, 20.0]]))


@pytest.mark.parametrize("top1", [True, False])
def test_nothing_above_threshold_gives_typed_empty_results(top1):
    result = predict(DISJOINT, PROBS, cfg(top1=top1, score_thr=0.99))
    assert result.bboxes.shape == (0, 4) and result.bboxes.dtype == torch.float
    assert result.scores.shape == (0,) and result.labels.dtype == torch.long


def test_zero_rois_gives_typed_empty_results():
    rois, logits = torch.zeros(0, 5), torch.zeros(0, NUM_CLASSES + 1)
    result = head().predict_by_feat(
        (rois,), (logits,), (torch.zeros(0, 12),), [META], rcnn_test_cfg=cfg()
    )[0]
    assert result.bboxes.shape == (0, 4) and result.scores.shape == (0,)
    assert result.labels.shape == (0,) and result.labels.dtype == torch.long


def test_raw_outputs_without_test_cfg_are_unchanged():
    """``rcnn_test_cfg=None`` (mmdet's TTA path): per-class boxes and scores, no NMS."""
    result = predict(DISJOINT, PROBS, None)
    assert result.bboxes.shape == (3, 4 * NUM_CLASSES)
    torch.testing.assert_close(result.scores, torch.tensor(PROBS))
