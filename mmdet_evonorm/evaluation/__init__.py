"""Evaluation: a COCO metric reporting the seed log's 12 numbers per IoU type."""

from .full_coco_metric import COCO_STAT_NAMES, FullCocoMetric, metric_keys

__all__ = ["COCO_STAT_NAMES", "FullCocoMetric", "metric_keys"]
