"""The synthetic COCO builder: valid COCO whose annotations match the painted shapes."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from pycocotools.coco import COCO

from mmdet_evonorm.data_builders.synthetic import CLASSES, make_synthetic_coco


def test_splits_differ_and_annotations_match_the_painted_shapes(tmp_path):
    train = make_synthetic_coco(tmp_path, "train", num_images=6, seed=3)
    make_synthetic_coco(tmp_path, "val", num_images=6, seed=3)
    assert (tmp_path / "train/000000.png").read_bytes() != (
        tmp_path / "val/000000.png"
    ).read_bytes()

    coco = COCO(str(train))
    assert [c["name"] for c in coco.loadCats(coco.getCatIds())] == list(CLASSES)
    assert len(coco.getImgIds()) == 6
    labels = set()
    for image_id in coco.getImgIds():
        info = coco.loadImgs(image_id)[0]
        image = cv2.imread(str(tmp_path / "train" / info["file_name"]))
        assert image.shape == (128, 128, 3)
        anns = coco.loadAnns(coco.getAnnIds(imgIds=image_id))
        assert 1 <= len(anns) <= 4
        for ann in anns:
            labels.add(ann["category_id"])
            x, y, w, h = ann["bbox"]
            assert ann["iscrowd"] == 0 and w > 0 and h > 0
            assert x >= 0 and y >= 0 and x + w <= 128 and y + h <= 128
            mask = coco.annToMask(ann).astype(bool)
            assert abs(mask.sum() - ann["area"]) <= 0.2 * ann["area"] + 8
            ys, xs = np.nonzero(mask)
            assert xs.min() >= x - 1 and xs.max() <= x + w + 1
            # the polygon covers one flat-coloured shape (the background is noisy)
            pixels = image[mask].reshape(-1, 3)
            _, counts = np.unique(pixels, axis=0, return_counts=True)
            assert counts.max() >= 0.8 * len(pixels)
    assert labels == {1, 2, 3}


def test_invalid_arguments(tmp_path):
    with pytest.raises(ValueError, match="num_classes"):
        make_synthetic_coco(tmp_path, num_classes=4)
    with pytest.raises(ValueError, match="image_size"):
        make_synthetic_coco(tmp_path, image_size=16)
    assert not any(tmp_path.iterdir())
