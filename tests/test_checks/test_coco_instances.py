"""check_coco_instances on small hand-written COCO files (no images unless needed)."""

from __future__ import annotations

import json

import pytest

from mmdet_evonorm.checks import BadInputError
from mmdet_evonorm.checks.coco_instances import check_coco_instances

CLASSES = ("cat", "dog")


def _coco(num_images=2, annotations=None):
    images = [dict(id=i, file_name=f"{i}.png", width=64, height=64) for i in range(num_images)]
    box = dict(bbox=[4.0, 4.0, 10.0, 12.0], segmentation=[[4, 4, 14, 4, 14, 16]], iscrowd=0)
    if annotations is None:
        annotations = [dict(id=1, image_id=0, category_id=1, **box)]
    categories = [dict(id=1, name="cat"), dict(id=2, name="dog"), dict(id=3, name="bird")]
    return dict(images=images, annotations=annotations, categories=categories)


def _write(tmp_path, coco):
    path = tmp_path / "ann.json"
    path.write_text(json.dumps(coco))
    return str(path)


def test_a_sound_file_passes_and_unused_categories_are_fine(tmp_path):
    assert check_coco_instances(_write(tmp_path, _coco()), CLASSES) == []


def test_few_degenerate_annotations_are_a_warning(tmp_path):
    good = dict(category_id=1, bbox=[1.0, 1.0, 5.0, 5.0], iscrowd=0)
    annotations = [dict(id=i, image_id=i % 2, **good) for i in range(1, 1502)]
    annotations[7]["bbox"] = [1.0, 1.0, 5.0, 0.0]
    (warning,) = check_coco_instances(_write(tmp_path, _coco(annotations=annotations)), CLASSES)
    assert "1 of 1501 annotations" in warning and "annotation id 8" in warning
    assert "mmdet drops them" in warning


def test_degenerate_annotations_of_other_classes_are_ignored(tmp_path):
    coco = _coco()
    coco["annotations"].append(dict(id=2, image_id=1, category_id=3, bbox=[0, 0, 0, 0]))
    assert check_coco_instances(_write(tmp_path, coco), CLASSES) == []


def test_crowd_rle_and_a_test_file_without_annotations(tmp_path):
    coco = _coco()
    coco["annotations"][0].update(iscrowd=1, segmentation=dict(counts="abc", size=[64, 64]))
    assert check_coco_instances(_write(tmp_path, coco), CLASSES) == []
    del coco["annotations"]  # e.g. image_info_test-dev2017.json
    assert check_coco_instances(_write(tmp_path, coco)) == []


@pytest.mark.parametrize(
    "edit, expected",
    [
        (lambda c: c["images"].append(dict(c["images"][0])), "id 0 appears twice in 'images'"),
        (lambda c: c["annotations"][0].update(image_id=7), "refers to image_id=7"),
        (lambda c: c["images"][1].pop("height"), "images[1] lacks 'height'"),
        (lambda c: c["annotations"][0].update(bbox=[1, 2, 3]), "it must be [x, y, width, height]"),
        (lambda c: c["annotations"][0].update(segmentation=[[1, 2, 3]]), "not a flat list of x, y"),
    ],
)
def test_structure_errors(tmp_path, edit, expected):
    coco = _coco()
    edit(coco)
    with pytest.raises(BadInputError) as error:
        check_coco_instances(_write(tmp_path, coco), CLASSES)
    assert expected in str(error.value) and "\n" not in str(error.value)


def test_not_a_coco_file(tmp_path):
    with pytest.raises(BadInputError, match="is not a COCO instances file"):
        check_coco_instances(_write(tmp_path, [1, 2]), CLASSES)


def test_only_images_that_will_be_loaded_must_exist(tmp_path):
    (tmp_path / "0.png").write_bytes(b"png")  # image 1 has no annotation and no file
    path = _write(tmp_path, _coco())
    assert check_coco_instances(path, CLASSES, str(tmp_path), annotated_only=True) == []
    with pytest.raises(BadInputError, match=r"1 of 2 images .* \(first: '1.png'\)"):
        check_coco_instances(path, CLASSES, str(tmp_path), annotated_only=False)
