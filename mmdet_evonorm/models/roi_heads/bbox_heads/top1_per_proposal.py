"""Top-1-class box inference per proposal (object_detection2).

Semantics: docs/original.md, "Inference".

The original ``FastRCNNOutputs.inference`` (vghost2008/wml1
``object_detection2/modeling/roi_heads/fast_rcnn.py`` @911cd7b) keeps, for every
proposal, only its best foreground class; detectron2 and mmdet instead keep every
class whose score passes the threshold, so one proposal can yield several
detections. Everything after the choice (score threshold, class-wise NMS, at most
``max_per_img`` detections) is the same, so the choice is written as a score mask in
front of mmdet's own ``multiclass_nms``::

    softmax scores (n, C + 1) --top-1 fg class--> (n, C + 1), one non-zero per row
                                                  | score > score_thr
                                                  v
                                  class-wise NMS, keep <= max_per_img
"""

from __future__ import annotations

import torch
from mmdet.models.layers import multiclass_nms
from mmdet.structures.bbox import get_box_type
from mmengine.config import ConfigDict
from mmengine.structures import InstanceData
from torch import Tensor


class Top1PerProposalMixin:
    """Mixin for ``BBoxHead`` subclasses: one detection per proposal at test time.

    Switched on by ``test_cfg.rcnn.top1_per_proposal=True``; without it (or with
    ``rcnn_test_cfg=None``, mmdet's raw-output path for test-time augmentation) the
    head behaves exactly like mmdet's ``BBoxHead``. Needs a softmax classifier and
    ``score_thr >= 0`` (the masked-out classes score exactly 0).

    Gap filled: mmdet's ``BBoxHead._predict_by_feat_single`` has no per-proposal
    class selection; only that method is overridden.
    """

    def _predict_by_feat_single(
        self,
        roi: Tensor,
        cls_score: Tensor,
        bbox_pred: Tensor,
        img_meta: dict,
        rescale: bool = False,
        rcnn_test_cfg: ConfigDict | None = None,
    ) -> InstanceData:
        """Decode one image's boxes, keeping the top-1 class of each proposal."""
        top1 = rcnn_test_cfg is not None and rcnn_test_cfg.get("top1_per_proposal", False)
        if not top1 or roi.size(0) == 0:
            return super()._predict_by_feat_single(
                roi, cls_score, bbox_pred, img_meta, rescale, rcnn_test_cfg
            )
        # rcnn_test_cfg=None: decoded (and rescaled) boxes + softmax scores, no NMS.
        raw = super()._predict_by_feat_single(roi, cls_score, bbox_pred, img_meta, rescale, None)
        best_score, best_label = raw.scores[:, :-1].max(dim=1)
        scores = torch.zeros_like(raw.scores)
        scores.scatter_(1, best_label[:, None], best_score[:, None])
        dets, labels = multiclass_nms(
            raw.bboxes,
            scores,
            rcnn_test_cfg.score_thr,
            rcnn_test_cfg.nms,
            rcnn_test_cfg.max_per_img,
            box_dim=get_box_type(self.predict_box_type)[1].box_dim,
        )
        return InstanceData(bboxes=dets[:, :-1], scores=dets[:, -1], labels=labels)
