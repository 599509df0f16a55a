"""``StandardRoIHead`` that skips box regression for RoIs that cannot become detections.

At test time mmdet's box head predicts deltas for every proposal (1000 per image in
the recipe), then ``BBoxHead.predict_by_feat`` turns the logits into softmax scores and
``multiclass_nms`` keeps only (RoI, class) pairs scoring ``> score_thr``; the top-1
path of :class:`Top1PerProposalMixin` applies the same threshold. A RoI whose best
foreground score is ``<= score_thr`` therefore produces no detection, and its deltas
are thrown away::

    RoI features ─┬─ cls branch (all RoIs) ── softmax ── best fg score > score_thr ?
                  │                                         │ yes          │ no
                  └─ reg branch ────────────────────────── deltas      zeros (never read)
                                                            │
                         predict_by_feat: decode, score_thr, class-wise NMS, max_per_img

For the seph / sephv2 heads the regression branch is a tower of four 3×3 convs per
RoI, the largest inference cost of those rows (docs/benchmarks_rows.md).

Gap of ``StandardRoIHead``: the box head never sees ``test_cfg``, so it cannot know
which RoIs matter. Here :meth:`predict_bbox` (which receives ``rcnn_test_cfg``) runs
mmdet's own ``predict_bbox`` inside the box head's ``score_gated(score_thr)`` context
(:meth:`NormConvFCBBoxHead.score_gated`). Everything else (training, the ``tensor``
forward, heads without ``score_gated``, ``rcnn_test_cfg=None``) is
``StandardRoIHead`` unchanged. The detections are the same: labels and kept
proposals identical, boxes and scores equal up to float rounding of the smaller
conv batch.
"""

from __future__ import annotations

from contextlib import nullcontext

from mmdet.models.roi_heads import StandardRoIHead
from mmdet.registry import MODELS
from mmdet.utils import ConfigType, InstanceList
from torch import Tensor


@MODELS.register_module()
class ScoreGatedRoIHead(StandardRoIHead):
    """``StandardRoIHead`` whose test-time box regression skips hopeless RoIs.

    Arguments: those of ``StandardRoIHead``. The gate uses ``test_cfg.score_thr``;
    it is active only for box heads that provide ``score_gated`` (this package's
    :class:`NormConvFCBBoxHead` and its presets).
    """

    def predict_bbox(
        self,
        x: tuple[Tensor],
        batch_img_metas: list[dict],
        rpn_results_list: InstanceList,
        rcnn_test_cfg: ConfigType,
        rescale: bool = False,
    ) -> InstanceList:
        """``StandardRoIHead.predict_bbox`` with the box head gated at ``score_thr``."""
        gate = getattr(self.bbox_head, "score_gated", None)
        score_thr = None if rcnn_test_cfg is None else rcnn_test_cfg.get("score_thr")
        with nullcontext() if gate is None or score_thr is None else gate(score_thr):
            return super().predict_bbox(
                x, batch_img_metas, rpn_results_list, rcnn_test_cfg, rescale
            )
