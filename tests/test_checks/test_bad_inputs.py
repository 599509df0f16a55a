"""Bad data, configs and checkpoints: one ``error:`` line, status 2, nothing existing changed.

``tools/train.py`` / ``tools/test.py`` run in-process (``run_train`` /
``run_test``) on edited copies of the synthetic COCO set, with a work dir that
holds an earlier run's files. All but the corrupt image are caught before the
runner is built, so nothing at all is written; a corrupt image is met while
loading the batch, after the runner wrote its log, and must still leave the
earlier files alone. Images without annotations must train.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from helpers import single_error_line, snapshot

from mmdet_evonorm.engine.cli import run_test, run_train
from mmdet_evonorm.testing import build_detector, get_tiny_mask_rcnn_cfg

REPO = Path(__file__).resolve().parents[2]
NO_VALIDATION = {"val_dataloader": None, "val_cfg": None, "val_evaluator": None}


def _error_line(capsys) -> str:
    return single_error_line(capsys.readouterr().err)


def _copy_set(synthetic_coco, tmp_path, edit=None):
    """A copy of the synthetic set whose train annotations ``edit(coco, root)`` changed.

    ``edit`` may return text to write instead of the edited JSON.
    """
    root = tmp_path / "data"
    shutil.copytree(synthetic_coco, root)
    if edit is not None:
        ann_file = root / "annotations/instances_train.json"
        coco = json.loads(ann_file.read_text())
        ann_file.write_text(edit(coco, root) or json.dumps(coco))
    return root


def _malformed(coco, root):
    return '{"images": [}'


def _rename_category(coco, root):
    coco["categories"][1]["name"] = "disk"


def _unknown_category(coco, root):
    coco["annotations"][3]["category_id"] = 9


def _two_point_polygon(coco, root):
    coco["annotations"][2]["segmentation"] = [[10.0, 10.0, 40.0, 40.0]]


def _zero_width_box(coco, root):
    coco["annotations"][0]["bbox"][2] = 0.0


def _negative_height_box(coco, root):
    coco["annotations"][1]["bbox"][3] = -4.0


def _missing_image(coco, root):
    (root / "train/000003.png").unlink()


def _empty_image(coco, root):
    (root / "train/000002.png").write_bytes(b"")


def _no_annotations(coco, root):
    coco["annotations"] = []


DATA_CASES = {
    "malformed JSON": (_malformed, ["instances_train.json is not valid JSON", "line 1 column 13"]),
    "class name not in categories": (
        _rename_category,
        ["no category named 'disc'", "categories are disk, square, triangle"],
    ),
    "unknown category id": (_unknown_category, ["annotation id 4 has category_id=9"]),
    "polygon with 2 points": (
        _two_point_polygon,
        ["annotation id 3", "segmentation[0] has 2 points (a polygon needs >= 3)"],
    ),
    "zero-size box": (_zero_width_box, ["annotation id 1", "bbox size 0.0 x"]),
    "negative box": (_negative_height_box, ["annotation id 2", "x -4.0 is not positive"]),
    "missing image": (_missing_image, ["1 of 8 images listed", "first: '000003.png'"]),
    "empty image": (_empty_image, ["000002.png is empty (0 bytes)"]),
    "no annotated image": (_no_annotations, ["no image has an annotation of the classes"]),
}


@pytest.mark.parametrize("case", list(DATA_CASES))
def test_bad_annotations_and_images(case, capsys, synthetic_coco, tiny_config, tmp_path, work_dir):
    edit, expected = DATA_CASES[case]
    root = _copy_set(synthetic_coco, tmp_path, edit)
    config = tiny_config(
        **{
            "train_dataloader.dataset.data_root": str(root),
            "train_dataloader.dataset.filter_cfg.filter_empty_gt": True,
        }
    )
    before = snapshot(work_dir)
    assert run_train([str(config), "--work-dir", str(work_dir)]) == 2
    line = _error_line(capsys)
    assert all(text in line for text in expected), line
    assert "train_dataloader.dataset" in line
    assert snapshot(work_dir) == before


CONFIG_CASES = {
    "unknown transform": (
        {"train_dataloader.dataset.pipeline.1.type": "LoadAnnotationz"},
        "train_dataloader.dataset.pipeline[1].type='LoadAnnotationz' is not in the "
        "mmdet::transform registry",
    ),
    "unknown nested model type": (
        {"model.roi_head.bbox_head.loss_cls.type": "CrossEntropyLossX"},
        "model.roi_head.bbox_head.loss_cls.type='CrossEntropyLossX' is not in the mmdet::model "
        "registry",
    ),
    "EvoNorm-S0 group size": (
        {"model.neck.norm_cfg": dict(type="EvoNormS0", group_size=5), "model.neck.act_cfg": None},
        "model.neck (FPN): EvoNormS0: group_size=5 must divide num_features=32",
    ),
    "EvoNorm-S0 groups": (
        {"model.roi_head.mask_head.norm_cfg": dict(type="EvoNormS0", groups=0)},
        "model.roi_head.mask_head (FCNMaskHead): EvoNormS0: groups must be a positive integer",
    ),
    "num_classes": (
        {"model.roi_head.bbox_head.num_classes": 80},
        "model.roi_head.bbox_head.num_classes=80 but train_dataloader.dataset has 3 classes",
    ),
}


@pytest.mark.parametrize("case", list(CONFIG_CASES))
def test_bad_config(case, capsys, tiny_config, work_dir):
    overrides, expected = CONFIG_CASES[case]
    config = tiny_config(**overrides)
    before = snapshot(work_dir)
    assert run_train([str(config), "--work-dir", str(work_dir)]) == 2
    assert expected in _error_line(capsys)
    assert snapshot(work_dir) == before


ROW = REPO / "configs" / "mask_rcnn_fpn3_evonorm.py"
BASE_CASES = {
    "row that does not exist": (
        "from mmengine.config import read_base\n\nwith read_base():\n"
        "    from mmdet_evonorm.configs.mask_rcnn_fpn3_nope import *\n",
        "mask_rcnn_fpn3_nope.py not found! It means that incorrect module is defined in "
        "`with read_base(): = from mmdet_evonorm.configs.mask_rcnn_fpn3_nope import ...`",
    ),
    "old-style base on a row": (
        f'_base_ = "{ROW}"\n',
        "an old-style config (`_base_ = ...`) cannot inherit a pure-Python one",
    ),
}


@pytest.mark.parametrize("case", list(BASE_CASES))
def test_config_whose_base_cannot_be_read(case, capsys, tmp_path, work_dir):
    text, expected = BASE_CASES[case]
    config = tmp_path / "my_config.py"
    config.write_text(text)
    before = snapshot(work_dir)
    assert run_train([str(config), "--work-dir", str(work_dir)]) == 2
    line = _error_line(capsys)
    assert line.startswith(f"error: {config}: ") and expected in line
    assert snapshot(work_dir) == before


@pytest.fixture
def foreign_checkpoint(tmp_path):
    """A checkpoint of another model: the tiny Mask R-CNN at width 16 instead of 32."""
    torch.manual_seed(0)
    path = tmp_path / "other_model.pth"
    model = build_detector(get_tiny_mask_rcnn_cfg(width=16))
    torch.save({"meta": {"iter": 2, "epoch": 0}, "state_dict": model.state_dict()}, path)
    return path


@pytest.mark.parametrize("use", ["test", "resume", "load_from"])
def test_checkpoint_of_another_model(use, capsys, foreign_checkpoint, tiny_config, work_dir):
    config = str(tiny_config())
    before = snapshot(work_dir)
    if use == "test":
        status = run_test([config, str(foreign_checkpoint), "--work-dir", str(work_dir)])
    else:
        flag = ["--resume", str(foreign_checkpoint)] if use == "resume" else []
        options = [] if flag else ["--cfg-options", f"load_from={foreign_checkpoint}"]
        status = run_train([config, "--work-dir", str(work_dir), *flag, *options])
    assert status == 2
    line = _error_line(capsys)
    assert line.startswith(f"error: {use}: {foreign_checkpoint} does not fit the model")
    assert "with another shape, e.g. neck.lateral_convs.0.conv.weight: (16, 128, 1, 1) in" in line
    assert snapshot(work_dir) == before


@pytest.mark.slow
@pytest.mark.parametrize("num_workers", [0, 1])
def test_corrupt_image_stops_with_one_line(
    num_workers, capsys, synthetic_coco, tiny_config, tmp_path, work_dir
):
    root = _copy_set(synthetic_coco, tmp_path)
    for image in (root / "train").glob("*.png"):
        image.write_bytes(b"not a PNG at all")
    config = tiny_config(
        **{
            "train_dataloader.dataset.data_root": str(root),
            "train_dataloader.num_workers": num_workers,
            **NO_VALIDATION,
        }
    )
    before = snapshot(work_dir)
    assert run_train([str(config), "--work-dir", str(work_dir)]) == 2
    line = _error_line(capsys)
    assert line.startswith(f"error: image {root / 'train'}/0000")
    assert "cannot be decoded" in line and "--resume" in line
    assert {path: snapshot(work_dir)[path] for path in before} == before


@pytest.mark.slow
def test_images_without_annotations_train(capsys, synthetic_coco, tiny_config, tmp_path):
    def keep_image_0_only(coco, root):
        coco["annotations"] = [a for a in coco["annotations"] if a["image_id"] == 0]

    root = _copy_set(synthetic_coco, tmp_path, keep_image_0_only)
    config = tiny_config(
        **{
            "train_dataloader.dataset.data_root": str(root),
            "train_dataloader.dataset.filter_cfg.filter_empty_gt": False,
            "train_cfg.max_iters": 2,
            **NO_VALIDATION,
        }
    )
    torch.manual_seed(0)
    assert run_train([str(config), "--work-dir", str(tmp_path / "work")]) == 0
    assert "error:" not in capsys.readouterr().err
    state = torch.load(tmp_path / "work/iter_2.pth", weights_only=True)["state_dict"]
    assert all(torch.isfinite(value).all() for value in state.values() if value.is_floating_point())
