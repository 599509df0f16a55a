"""The embedded nuclei set builder: determinism, exact annotations, cache rules, bad input."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from pycocotools.coco import COCO

from mmdet_evonorm.data_builders import nuclei

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def wheel(tmp_path_factory) -> Path:
    """The stardist wheel: the repo's download cache if present, else one pip download."""
    cached = sorted((REPO / "data" / "sources").glob("stardist-0.9.2-*.whl"))
    if cached:
        return cached[0]
    try:
        return nuclei.download_wheel(tmp_path_factory.mktemp("wheel"))
    except nuclei.NucleiDatasetError as err:
        pytest.skip(f"PyPI unreachable, cannot fetch stardist==0.9.2: {err}")


@pytest.fixture(scope="session")
def built(wheel, tmp_path_factory) -> Path:
    out, action = nuclei.ensure_nuclei_dataset(tmp_path_factory.mktemp("a") / "nuclei", wheel)
    assert action == "built"
    return out


def _tree(root: Path) -> dict[str, bytes]:
    files = sorted(p for p in root.rglob("*") if p.is_file())
    return {str(p.relative_to(root)): p.read_bytes() for p in files}


def test_build_is_byte_identical(built, wheel, tmp_path):
    again, _ = nuclei.ensure_nuclei_dataset(tmp_path / "nuclei", wheel)
    first, second = _tree(built), _tree(again)
    assert sorted(first) == sorted(second)
    assert first == second
    assert {"annotations/train.json", "annotations/val.json", nuclei.MANIFEST} <= set(first)
    assert sum(name.endswith(".png") for name in first) == len(nuclei.tiles()) == 13


def test_annotations_are_valid_and_exact(built, wheel):
    """Every polygon rasterises back to exactly the source nucleus pixels."""
    image, mask = nuclei.read_source(wheel)
    tiles = {t.file_name: t for t in nuclei.tiles()}
    ann_ids, img_ids, seen_labels = [], [], set()
    for split in ("train", "val"):
        coco = COCO(str(built / "annotations" / f"{split}.json"))
        assert coco.dataset["categories"] == [nuclei.CATEGORY]
        assert coco.dataset["info"]["source"]["package"] == "stardist==0.9.2"
        img_ids += list(coco.imgs)
        for img in coco.imgs.values():
            tile = tiles[img["file_name"]]
            assert tile.split == split
            assert (built / split / img["file_name"]).is_file()
            labels = tile.crop(mask)
            for ann in coco.imgToAnns[img["id"]]:
                ann_ids.append(ann["id"])
                assert all(len(p) >= 6 and len(p) % 2 == 0 for p in ann["segmentation"])
                x, y, w, h = ann["bbox"]
                assert w > 0 and h > 0 and x >= 0 and y >= 0
                assert x + w <= img["width"] and y + h <= img["height"]
                drawn = coco.annToMask(ann).astype(bool)
                label = np.bincount(labels[drawn]).argmax()
                np.testing.assert_array_equal(drawn, labels == label)
                assert ann["area"] == drawn.sum()
                seen_labels.add(int(label))
    assert len(set(ann_ids)) == len(ann_ids)
    assert len(set(img_ids)) == len(img_ids)
    assert seen_labels == set(np.unique(mask[mask > 0]).tolist())  # all 125 nuclei


def test_images_use_fixed_percentiles(built, wheel):
    import cv2

    image, _ = nuclei.read_source(wheel)
    val = nuclei.tiles()[0]
    png = cv2.imread(str(built / "val" / val.file_name), cv2.IMREAD_UNCHANGED)
    assert png.shape == (256, 256, 3) and png.dtype == np.uint8
    np.testing.assert_array_equal(png[:, :, ::-1], val.crop(nuclei.to_rgb8(image)))


def test_to_rgb8_maps_percentiles_to_range():
    image = np.arange(1000, dtype=np.uint16).reshape(25, 40)
    rgb = nuclei.to_rgb8(image)
    assert rgb.shape == (25, 40, 3) and rgb.dtype == np.uint8
    assert (rgb[..., 0] == rgb[..., 2]).all()
    lo, hi = np.percentile(image, nuclei.PERCENTILES)
    assert (rgb[image <= lo] == 0).all() and (rgb[image >= hi] == 255).all()
    assert np.all(np.diff(rgb[..., 0].ravel().astype(int)) >= 0)  # monotone


@pytest.mark.parametrize(
    "pixels",
    [
        [(3, 3)],  # single pixel
        [(2, x) for x in range(1, 6)],  # one-pixel-wide line
        [(y, 1) for y in range(1, 6)] + [(5, x) for x in range(2, 6)],  # L shape
        [(1, 1), (1, 2), (6, 6), (7, 6)],  # two components -> two polygons
    ],
)
def test_mask_to_polygons_round_trips(pixels):
    from pycocotools import mask as mask_utils

    binary = np.zeros((9, 9), np.uint8)
    for y, x in pixels:
        binary[y, x] = 1
    polygons = nuclei.mask_to_polygons(binary)
    assert all(len(p) >= 6 for p in polygons)
    rle = mask_utils.merge(mask_utils.frPyObjects(polygons, 9, 9))
    np.testing.assert_array_equal(mask_utils.decode(rle), binary)


def test_slivers_are_crowd():
    labels = np.zeros((8, 8), np.uint16)
    labels[0:2, 0:2] = 7  # 4 of its 20 pixels visible -> below MIN_VISIBLE
    labels[4:8, 4:8] = 9  # whole nucleus
    anns = list(nuclei.tile_annotations(labels, {7: 20, 9: 16}))
    assert [(a["area"], a["iscrowd"], a["bbox"]) for a in anns] == [
        (4, 1, [0, 0, 2, 2]),
        (16, 0, [4, 4, 4, 4]),
    ]


def test_cache_is_reused_and_edits_are_protected(built, wheel, tmp_path):
    out = tmp_path / "nuclei"
    shutil.copytree(built, out)
    assert nuclei.ensure_nuclei_dataset(out, wheel)[1] == "cached"

    tampered = out / "annotations" / "val.json"
    tampered.write_text("{}")
    with pytest.raises(nuclei.NucleiDatasetError, match="not an unmodified nuclei build"):
        nuclei.ensure_nuclei_dataset(out, wheel)
    assert tampered.read_text() == "{}"  # nothing overwritten

    assert nuclei.ensure_nuclei_dataset(out, wheel, force=True)[1] == "rebuilt"
    assert _tree(out) == _tree(built)


def test_foreign_directory_is_left_alone(wheel, tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    with pytest.raises(nuclei.NucleiDatasetError, match="--force"):
        nuclei.ensure_nuclei_dataset(out, wheel)
    assert _tree(out) == {"notes.txt": b"keep me"}


def test_older_recipe_is_rebuilt(built, wheel, tmp_path, monkeypatch):
    out = tmp_path / "nuclei"
    shutil.copytree(built, out)
    monkeypatch.setattr(nuclei, "FORMAT_VERSION", nuclei.FORMAT_VERSION + 1)
    assert nuclei.cache_state(out) == "stale"
    assert nuclei.ensure_nuclei_dataset(out, wheel)[1] == "rebuilt"
    assert json.loads((out / nuclei.MANIFEST).read_text())["recipe"] == nuclei.recipe()


def test_older_recipe_with_added_files_is_left_alone(built, wheel, tmp_path, monkeypatch):
    out = tmp_path / "nuclei"
    shutil.copytree(built, out)
    (out / "train" / "mine.png").write_bytes(b"user data")
    monkeypatch.setattr(nuclei, "FORMAT_VERSION", nuclei.FORMAT_VERSION + 1)
    with pytest.raises(nuclei.NucleiDatasetError, match="--force"):
        nuclei.ensure_nuclei_dataset(out, wheel)
    assert (out / "train" / "mine.png").read_bytes() == b"user data"


def test_wheel_without_the_data_is_refused(tmp_path):
    import zipfile

    fake = tmp_path / "stardist-0.9.2-py3-none-any.whl"
    with zipfile.ZipFile(fake, "w") as zf:
        zf.writestr("stardist/__init__.py", "")
    with pytest.raises(nuclei.NucleiDatasetError, match="nuclei test data"):
        nuclei.read_source(fake)


def test_failed_download_says_what_to_do(tmp_path, monkeypatch):
    def offline(cmd, **kwargs):
        assert cmd[-1] == nuclei.STARDIST_REQUIREMENT and "--no-deps" in cmd
        return subprocess.CompletedProcess(cmd, 1, "", "ERROR: No matching distribution\n")

    monkeypatch.setattr(nuclei.subprocess, "run", offline)
    with pytest.raises(nuclei.NucleiDatasetError) as info:
        nuclei.ensure_nuclei_dataset(tmp_path / "nuclei")
    message = str(info.value)
    assert "No matching distribution" in message and str(tmp_path / "sources") in message
    assert "\n" not in message and not (tmp_path / "nuclei").exists()


def test_folds_validate_on_each_quadrant_and_the_last_is_the_quickstart_split(
    built, wheel, tmp_path
):
    (tmp_path / "sources").mkdir()
    shutil.copy(wheel, tmp_path / "sources")
    folds = nuclei.ensure_nuclei_folds(tmp_path / "folds", 4)
    assert [f.name for f in folds] == ["fold_0", "fold_1", "fold_2", "fold_3"]
    assert _tree(folds[3]) == _tree(built)  # the quickstart's split, byte for byte
    _, mask = nuclei.read_source(wheel)
    for fold, (y, x) in zip(folds, nuclei.FOLD_ORIGINS, strict=True):
        val = json.loads((fold / "annotations" / "val.json").read_text())["images"]
        train = json.loads((fold / "annotations" / "train.json").read_text())["images"]
        assert [img["file_name"] for img in val] == [f"nuclei_y{y:03d}_x{x:03d}.png"]
        assert len(train) == 12 and all(img["width"] == 128 for img in train)
        covered = np.zeros(nuclei.SOURCE_SHAPE, int)  # every pixel in exactly one split
        for tile in nuclei.tiles((y, x)):
            covered[tile.y : tile.y + tile.size, tile.x : tile.x + tile.size] += 1
        assert (covered == 1).all()
    assert nuclei.ensure_nuclei_folds(tmp_path / "folds", 2) == folds[:2]  # cached


@pytest.mark.parametrize("num_folds", [0, 5])
def test_fold_count_the_image_cannot_support(num_folds, tmp_path):
    with pytest.raises(nuclei.NucleiDatasetError, match=f"--folds {num_folds}: .* 1 to 4 folds"):
        nuclei.ensure_nuclei_folds(tmp_path / "folds", num_folds)
    assert not (tmp_path / "folds").exists()
