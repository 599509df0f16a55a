"""Random RoI sampler that adds a fixed number of GT boxes, drawn with replacement.

object_detection2 (vghost2008/wml1 ``object_detection2/modeling/roi_heads/roi_heads.py``
@911cd7b; docs/original.md, "RoI sampling") appends ground-truth boxes to each image's
proposals before sampling, as detectron2 and mmdet do, but not all of them: it draws 16
GT boxes per image at random **with replacement**. An image with 3 objects adds 16 boxes
(each GT about 5 times), one with 50 objects adds 16 of them::

    GT (k boxes) ── draw 16 indices in [0, k) with replacement ── g_1 ... g_16
    priors = [g_1 ... g_16, proposals]        each g_i assigned to its own GT (IoU 1)
    ── RandomSampler: num RoIs, pos_fraction positive

Gap of mmdet's ``RandomSampler``: ``add_gt_as_proposals=True`` always adds every GT
box exactly once (``BaseSampler.sample`` + ``AssignResult.add_gt_``). Here the drawn
boxes are added the same way (assigned to their GT with overlap 1, flagged as GT),
then mmdet's sampling runs unchanged.
"""

from __future__ import annotations

import torch
from mmdet.models.task_modules.assigners import AssignResult
from mmdet.models.task_modules.samplers import RandomSampler, SamplingResult
from mmdet.registry import TASK_UTILS
from mmdet.structures.bbox import BaseBoxes, cat_boxes
from mmengine.structures import InstanceData


@TASK_UTILS.register_module()
class GTDrawRandomSampler(RandomSampler):
    """``RandomSampler`` adding ``num_gt_proposals`` GT boxes drawn with replacement.

    Args:
        num: RoIs sampled per image.
        pos_fraction: Target fraction of positives.
        num_gt_proposals: GT boxes drawn (uniformly, with replacement) and added
            to the proposals of an image with at least one GT. Defaults to 16 (the
            original).
        add_gt_as_proposals: False adds no GT box at all. Defaults to True.
        **kwargs: Other ``RandomSampler`` arguments (``neg_pos_ub``, ...).

    The draws use torch's global generator, like ``RandomSampler``'s choices.
    """

    def __init__(
        self,
        num: int,
        pos_fraction: float,
        num_gt_proposals: int = 16,
        add_gt_as_proposals: bool = True,
        **kwargs,
    ) -> None:
        if num_gt_proposals < 0:
            raise ValueError(f"num_gt_proposals must be >= 0, got {num_gt_proposals}")
        # mmdet's own "add every GT once" stays off; sample() adds the drawn boxes.
        super().__init__(num, pos_fraction, add_gt_as_proposals=False, **kwargs)
        self.num_gt_proposals = num_gt_proposals if add_gt_as_proposals else 0

    def sample(
        self,
        assign_result: AssignResult,
        pred_instances: InstanceData,
        gt_instances: InstanceData,
        **kwargs,
    ) -> SamplingResult:
        """Add the drawn GT boxes to ``pred_instances.priors``, then sample."""
        gt_bboxes, priors = gt_instances.bboxes, pred_instances.priors
        num_gts = len(gt_bboxes)
        if not self.num_gt_proposals or not num_gts:
            return super().sample(assign_result, pred_instances, gt_instances, **kwargs)
        drawn = torch.randint(num_gts, (self.num_gt_proposals,), device=gt_instances.labels.device)
        gt_boxes = gt_bboxes[drawn]
        if isinstance(gt_boxes, BaseBoxes) and isinstance(priors, BaseBoxes):
            gt_boxes = gt_boxes.convert_to(type(priors))
        _add_drawn_gt(assign_result, drawn, gt_instances.labels[drawn])
        with_gt = InstanceData(priors=cat_boxes([gt_boxes, priors], dim=0))
        result = super().sample(assign_result, with_gt, gt_instances, **kwargs)
        result.pos_is_gt = (result.pos_inds < len(drawn)).to(torch.uint8)
        return result


def _add_drawn_gt(assign_result: AssignResult, drawn: torch.Tensor, labels: torch.Tensor) -> None:
    """``AssignResult.add_gt_`` for the GT boxes ``drawn`` (indices, may repeat)."""
    assign_result.gt_inds = torch.cat([drawn + 1, assign_result.gt_inds])
    assign_result.max_overlaps = torch.cat(
        [assign_result.max_overlaps.new_ones(len(drawn)), assign_result.max_overlaps]
    )
    assign_result.labels = torch.cat([labels, assign_result.labels])
