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

Test-time BN statistics (``test_cfg.rcnn.bn_stats``): ``'running'`` (default) keeps
the EMA statistics; ``'batch'`` turns the BN layers of the box and mask heads into
:class:`~mmdet_evonorm.models.layers.BatchStatsBN`, which normalises with the
statistics of the RoIs being classified (Wu & Johnson, arXiv 2105.07576, Table 6,
"mini-batch" inference). Training is unchanged either way, so a checkpoint trained
with BN heads is evaluated so with ``--cfg-options model.test_cfg.rcnn.bn_stats=batch``.
"""

from __future__ import annotations

from contextlib import nullcontext

from mmdet.models.roi_heads import StandardRoIHead
from mmdet.registry import MODELS
from mmdet.utils import ConfigType, InstanceList
from torch import Tensor

from ..layers import convert_to_batch_stats

#: Values of ``test_cfg.rcnn.bn_stats``.
BN_STATS = ("running", "batch")


@MODELS.register_module()
class ScoreGatedRoIHead(StandardRoIHead):
    """``StandardRoIHead`` whose test-time box regression skips hopeless RoIs.

    Arguments: those of ``StandardRoIHead``. The gate uses ``test_cfg.score_thr``;
    it is active only for box heads that provide ``score_gated`` (this package's
    :class:`NormConvFCBBoxHead` and its presets). ``test_cfg.bn_stats='batch'``
    normalises the heads' BN layers with test-time batch statistics.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        bn_stats = (self.test_cfg or {}).get("bn_stats", "running")
        if bn_stats not in BN_STATS:
            raise ValueError(
                f"test_cfg.rcnn.bn_stats={bn_stats!r}: choose one of {', '.join(BN_STATS)}"
            )
        if bn_stats == "batch":
            for head in ("bbox_head", "mask_head"):
                if getattr(self, head, None) is not None:
                    convert_to_batch_stats(getattr(self, head))

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
