"""GTDrawRandomSampler: 16 GT boxes drawn with replacement are added per image (as the original)."""

from __future__ import annotations

import pytest
import torch
from mmdet.models.task_modules.assigners import MaxIoUAssigner
from mmdet.registry import TASK_UTILS
from mmengine.structures import InstanceData

from mmdet_evonorm.testing import build_detector, demo_batch, get_tiny_mask_rcnn_cfg


def gt(num: int) -> InstanceData:
    xy = torch.arange(num, dtype=torch.float)[:, None] * 40
    return InstanceData(
        bboxes=torch.cat([xy, xy, xy + 30, xy + 30], 1), labels=torch.arange(num) % 3
    )


def sample(num_gts: int, num_proposals: int = 40, **kwargs):
    gt_instances = gt(num_gts)
    xy = torch.rand(num_proposals, 2) * 40 * max(num_gts, 1)
    proposals = InstanceData(priors=torch.cat([xy, xy + 30], 1))
    assigner = MaxIoUAssigner(pos_iou_thr=0.5, neg_iou_thr=0.5, min_pos_iou=0.5)
    assign = assigner.assign(proposals, gt_instances)
    sampler = TASK_UTILS.build(
        dict(type="GTDrawRandomSampler", num=64, pos_fraction=0.25, **kwargs)
    )
    result = sampler.sample(assign, proposals, gt_instances)
    return result, assign, gt_instances, num_proposals


@pytest.mark.parametrize("num_gts", [1, 3, 50])
def test_adds_exactly_16_gt_boxes_drawn_with_replacement(num_gts):
    torch.manual_seed(0)
    result, assign, gt_instances, num_proposals = sample(num_gts)
    assert assign.num_preds == 16 + num_proposals  # not num_gts
    drawn = assign.gt_inds[:16] - 1  # the added boxes' own GT
    assert torch.equal(assign.labels[:16], gt_instances.labels[drawn])
    assert (assign.max_overlaps[:16] == 1).all()
    assert result.pos_is_gt.sum() >= 1
    # every sampled GT prior is the box of the GT it is assigned to, with its label
    is_gt = result.pos_is_gt.bool()
    assert torch.equal(result.pos_priors[is_gt], result.pos_gt_bboxes[is_gt])
    assigned = result.pos_assigned_gt_inds[is_gt]
    assert torch.equal(result.pos_gt_labels[is_gt], gt_instances.labels[assigned])
    assert torch.equal(result.pos_is_gt.bool(), result.pos_inds < 16)
    if num_gts < 16:  # with replacement: some GT box is added more than once
        assert len(drawn.unique()) <= num_gts
    else:
        assert len(drawn.unique()) < num_gts


def test_draws_cover_the_gt_uniformly():
    """With 3 GT boxes each is added about 16 / 3 times per image on average."""
    counts = torch.zeros(3)
    for seed in range(50):
        torch.manual_seed(seed)
        _, assign, _, _ = sample(3)
        counts += torch.bincount(assign.gt_inds[:16] - 1, minlength=3)
    assert counts.sum() == 50 * 16
    assert counts.min() > 0.8 * counts.mean()


def test_no_gt_and_switched_off_add_nothing():
    empty, assign, _, num_proposals = sample(0)
    assert assign.num_preds == num_proposals and not empty.pos_is_gt.any()
    off, assign, _, num_proposals = sample(3, add_gt_as_proposals=False)
    assert assign.num_preds == num_proposals and not off.pos_is_gt.any()
    _, assign, _, num_proposals = sample(3, num_gt_proposals=4)
    assert assign.num_preds == 4 + num_proposals


def test_negative_count_is_refused():
    with pytest.raises(ValueError, match="num_gt_proposals"):
        TASK_UTILS.build(
            dict(type="GTDrawRandomSampler", num=8, pos_fraction=0.25, num_gt_proposals=-1)
        )


@pytest.mark.parametrize("num_items", [[5, 0], [40, 2]], ids=["5+empty", "40+2"])
def test_tiny_mask_rcnn_trains_with_it(num_items):
    cfg = get_tiny_mask_rcnn_cfg(num_classes=3)
    cfg.train_cfg.rcnn.sampler.type = "GTDrawRandomSampler"
    torch.manual_seed(0)
    model = build_detector(cfg).train()
    data = model.data_preprocessor(demo_batch(2, num_items=num_items), True)
    total, _ = model.parse_losses(model(**data, mode="loss"))
    assert torch.isfinite(total)
    total.backward()
