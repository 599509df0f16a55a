"""COCO metric that reports all 12 summary numbers of ``COCOeval.summarize``."""

from __future__ import annotations

from collections.abc import Sequence

from mmdet.evaluation import CocoMetric
from mmdet.registry import METRICS

_AP_ITEMS = ("mAP", "mAP_50", "mAP_75", "mAP_s", "mAP_m", "mAP_l")
# mmdet's fixed labels for COCOeval.stats[6:12] -> what they are with maxDets (1, 10, 100).
_AR_RENAMES = {
    "AR@100": "AR@1",
    "AR@300": "AR@10",
    "AR@1000": "AR@100",
    "AR_s@1000": "AR_s@100",
    "AR_m@1000": "AR_m@100",
    "AR_l@1000": "AR_l@100",
}
#: The 12 COCO summary numbers in ``COCOeval.stats`` order, named as this package logs them.
COCO_STAT_NAMES = _AP_ITEMS + tuple(_AR_RENAMES.values())


@METRICS.register_module()
class FullCocoMetric(CocoMetric):
    """mmdet's ``CocoMetric`` logging the 12 numbers the seed log reports per IoU type.

    Gap filled: ``CocoMetric`` logs 6 AP numbers by default, and although
    ``metric_items`` can select the 6 AR numbers too, it labels ``COCOeval.stats``
    positions 6-11 as ``AR@100/300/1000`` whatever ``proposal_nums`` is. Here
    ``proposal_nums`` is fixed to the standard COCO ``maxDets = (1, 10, 100)`` and the
    results are renamed to what they are (``bbox_AR@1``, ..., ``segm_AR_l@100``). The
    evaluation itself is mmdet's / pycocotools' unchanged.
    """

    def __init__(self, **kwargs) -> None:
        if tuple(kwargs.pop("proposal_nums", (1, 10, 100))) != (1, 10, 100):
            raise ValueError("FullCocoMetric: proposal_nums is fixed to (1, 10, 100)")
        kwargs.setdefault("metric_items", [*_AP_ITEMS, *_AR_RENAMES])
        super().__init__(proposal_nums=(1, 10, 100), **kwargs)

    def compute_metrics(self, results: list) -> dict[str, float]:
        """Run mmdet's evaluation, then rename the AR items to their true maxDets."""
        out = {}
        for key, value in super().compute_metrics(results).items():
            iou_type, _, item = key.partition("_")
            out[f"{iou_type}_{_AR_RENAMES[item]}" if item in _AR_RENAMES else key] = value
        return out


def metric_keys(iou_types: Sequence[str] = ("bbox", "segm")) -> list[str]:
    """The ``<iou_type>_<stat>`` keys ``FullCocoMetric`` produces (mmengine adds ``coco/``)."""
    return [f"{t}_{name}" for t in iou_types for name in COCO_STAT_NAMES]
