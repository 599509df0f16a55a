"""FullCocoMetric reports exactly pycocotools' 12 summary numbers under their true names."""

import json

import numpy as np
import pytest
import torch
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from mmdet_evonorm.evaluation import COCO_STAT_NAMES, FullCocoMetric, metric_keys

SIZE = 128


def _box_polygon(x, y, w, h):
    return [[x, y, x + w, y, x + w, y + h, x, y + h]]


@pytest.fixture
def coco_gt(tmp_path):
    rng = np.random.default_rng(0)
    images, anns = [], []
    for img_id in (1, 2, 3):
        images.append(dict(id=img_id, file_name=f"{img_id}.png", height=SIZE, width=SIZE))
        for _ in range(4):
            x, y = rng.integers(0, 60, size=2).tolist()
            w, h = rng.integers(6, 64, size=2).tolist()
            anns.append(
                dict(
                    id=len(anns) + 1,
                    image_id=img_id,
                    category_id=int(rng.integers(1, 3)),
                    bbox=[x, y, w, h],
                    area=w * h,
                    segmentation=_box_polygon(x, y, w, h),
                    iscrowd=0,
                )
            )
    cats = [dict(id=1, name="a"), dict(id=2, name="b")]
    path = tmp_path / "gt.json"
    path.write_text(json.dumps(dict(images=images, annotations=anns, categories=cats)))
    return path


def _predictions(gt_path):
    """Jittered copies of the GT plus a few false positives, as mmdet data samples."""
    rng = np.random.default_rng(1)
    gt = json.loads(gt_path.read_text())
    samples = []
    for img in gt["images"]:
        anns = [a for a in gt["annotations"] if a["image_id"] == img["id"]]
        boxes = [
            [x + d[0], y + d[1], x + w + d[2], y + h + d[3]]
            for (x, y, w, h), d in zip(
                (a["bbox"] for a in anns), rng.integers(-3, 4, size=(len(anns), 4)), strict=True
            )
        ] + [[1, 1, 20, 20], [30, 30, 60, 50]]
        labels = [a["category_id"] - 1 for a in anns] + [0, 1]
        masks = np.zeros((len(boxes), SIZE, SIZE), dtype=bool)
        for m, (x1, y1, x2, y2) in zip(masks, boxes, strict=True):
            m[max(y1, 0) : y2, max(x1, 0) : x2] = True
        pred = dict(
            bboxes=torch.tensor(boxes, dtype=torch.float32).clamp(0, SIZE),
            scores=torch.from_numpy(rng.uniform(0.3, 1.0, size=len(boxes))).float(),
            labels=torch.tensor(labels),
            masks=torch.from_numpy(masks),
        )
        samples.append(dict(img_id=img["id"], ori_shape=(SIZE, SIZE), pred_instances=pred))
    return samples


def _pycocotools_stats(gt_path, result_files, iou_type):
    """Reference: evaluate mmdet's own result file with plain COCOeval defaults."""
    coco = COCO(str(gt_path))
    dets = coco.loadRes(result_files[iou_type])
    ev = COCOeval(coco, dets, iou_type)
    ev.evaluate()
    ev.accumulate()
    ev.summarize()
    return ev.stats


def test_reports_all_twelve_numbers_per_iou_type(coco_gt, tmp_path):
    metric = FullCocoMetric(ann_file=str(coco_gt), metric=["bbox", "segm"])
    metric.dataset_meta = dict(classes=("a", "b"))
    samples = _predictions(coco_gt)
    metric.process({}, samples)
    results = metric.compute_metrics(metric.results)
    assert sorted(results) == sorted(metric_keys())
    # Reference: the same predictions through COCOeval with its default maxDets (1, 10, 100).
    preds = [pred for _, pred in metric.results]
    result_files = metric.results2json(preds, str(tmp_path / "ref"))
    for iou_type in ("bbox", "segm"):
        stats = _pycocotools_stats(coco_gt, result_files, iou_type)
        for name, value in zip(COCO_STAT_NAMES, stats, strict=True):
            assert results[f"{iou_type}_{name}"] == pytest.approx(round(float(value), 3))
    assert 0 < results["bbox_mAP"] < 1
    assert results["bbox_AR@1"] <= results["bbox_AR@10"] <= results["bbox_AR@100"]


def test_rejects_other_proposal_nums(coco_gt):
    with pytest.raises(ValueError, match="proposal_nums"):
        FullCocoMetric(ann_file=str(coco_gt), proposal_nums=(100, 300, 1000))
