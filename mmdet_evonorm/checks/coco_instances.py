"""One fast pass over a COCO instances file, before a run loads it.

mmdet's ``CocoDataset`` trusts its annotation file: a class name missing from
``categories`` silently trains an empty class, an annotation of an unknown image
or category is dropped, and degenerate boxes / polygons (``w < 1``, fewer than 3
points) are dropped without a word. A broken converter therefore shows up hours
later as a bad AP, or a missing image as a crash in the middle of training.
:func:`check_coco_instances` reads the JSON once and checks::

    structure   images / annotations / categories lists, required keys, unique ids
    references  annotation -> image_id, category_id; config classes -> category names
    geometry    bbox w, h > 0; polygons with >= 3 points and an even length
    files       every image to be loaded exists under the image folder, non-empty

Each failure raises :class:`~.bad_input.BadInputError` with one line naming the
file, the entry and what to do. Degenerate annotations are an error only above
:data:`MAX_DEGENERATE_FRACTION` of the annotations of the config's classes
(mmdet has always dropped them silently, so a set with a few has trained
before; many point to a broken converter); below it they come back as a
warning line. Images without annotations are fine.
"""

from __future__ import annotations

import json
import os
import os.path as osp
from collections.abc import Iterator, Sequence

from .bad_input import BadInputError

#: Share of degenerate annotations above which a file is treated as broken.
MAX_DEGENERATE_FRACTION = 1e-3
IMAGE_KEYS = ("id", "file_name", "width", "height")


def check_coco_instances(
    ann_file: str,
    classes: Sequence[str] | None = None,
    image_dir: str | None = None,
    annotated_only: bool = False,
) -> list[str]:
    """Validate a COCO instances file for a run; return warning lines.

    Args:
        ann_file (str): Local path of the JSON file.
        classes (Sequence[str], optional): The config's class names, matched
            against ``categories[].name`` as ``CocoDataset`` does. None checks
            structure and references only (e.g. an evaluator's file).
        image_dir (str, optional): Folder of the images (``data_root`` +
            ``data_prefix.img``); None skips the file checks.
        annotated_only (bool): Only images with an annotation of ``classes``
            are loaded (``filter_empty_gt=True`` in training): at least one is
            needed and only those must exist.

    Raises:
        BadInputError: For the first problem found.
    """
    coco = _load(ann_file)
    images = _images(coco, ann_file)
    category_ids = _categories(coco, ann_file, classes)
    counts, degenerate, used = _annotations(coco, ann_file, images, category_ids)
    warnings = _degenerate_verdict(ann_file, degenerate, used)
    if classes is not None and annotated_only and not counts:
        raise BadInputError(
            f"{ann_file}: no image has an annotation of the classes {tuple(classes)}; "
            "training would have no data (check metainfo.classes against the categories)"
        )
    if image_dir is not None:
        loaded = [im for im in images.values() if not annotated_only or counts.get(im["id"])]
        _check_image_files(ann_file, image_dir, loaded)
    return warnings


def _load(ann_file: str) -> dict:
    try:
        with open(ann_file, encoding="utf-8") as file:
            coco = json.load(file)
    except json.JSONDecodeError as exc:
        raise BadInputError(
            f"{ann_file} is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno}); "
            "fix or regenerate the file"
        ) from None
    except UnicodeDecodeError:
        raise BadInputError(f"{ann_file} is not UTF-8 text; is it a JSON file?") from None
    if not isinstance(coco, dict) or not isinstance(coco.get("images"), list):
        raise BadInputError(
            f"{ann_file} is not a COCO instances file (no 'images' list); it needs "
            "'images', 'annotations' and 'categories'"
        )
    return coco


def _entries(coco: dict, key: str, ann_file: str, required: Sequence[str]) -> Iterator[dict]:
    """The dicts of ``coco[key]`` (absent = empty), each with the ``required`` keys."""
    entries = coco.get(key, [])
    if not isinstance(entries, list):
        raise BadInputError(f"{ann_file}: '{key}' must be a list, got {type(entries).__name__}")
    for index, entry in enumerate(entries):
        missing = [name for name in required if not isinstance(entry, dict) or name not in entry]
        if missing:
            raise BadInputError(
                f"{ann_file}: {key}[{index}] lacks {', '.join(map(repr, missing))} "
                f"(each entry needs {', '.join(required)})"
            )
        yield entry


def _unique(ann_file: str, key: str, entries: Iterator[dict]) -> dict:
    by_id = {}
    for entry in entries:
        if entry["id"] in by_id:
            raise BadInputError(
                f"{ann_file}: id {entry['id']!r} appears twice in '{key}'; ids must be unique"
            )
        by_id[entry["id"]] = entry
    return by_id


def _images(coco: dict, ann_file: str) -> dict:
    return _unique(ann_file, "images", _entries(coco, "images", ann_file, IMAGE_KEYS))


def _categories(coco: dict, ann_file: str, classes: Sequence[str] | None) -> dict:
    """Map every category id to whether annotations of it are used (its name is a class)."""
    categories = _unique(
        ann_file, "categories", _entries(coco, "categories", ann_file, ("id", "name"))
    )
    names = {category["name"] for category in categories.values()}
    missing = [name for name in classes or () if name not in names]
    if missing:
        raise BadInputError(
            f"{ann_file}: no category named {', '.join(map(repr, missing))} (the config's "
            f"metainfo.classes); the file's categories are {', '.join(sorted(names)) or 'none'}; "
            "make the class names match"
        )
    return {cid: classes is None or c["name"] in classes for cid, c in categories.items()}


def _annotations(coco: dict, ann_file: str, images: dict, category_ids: dict):
    """Check references; return (annotations per image, degenerate list, number used)."""
    counts: dict = {}
    degenerate: list[str] = []
    required = ("id", "image_id", "category_id", "bbox")
    entries = _entries(coco, "annotations", ann_file, required)
    for ann in _unique(ann_file, "annotations", entries).values():
        where = f"annotation id {ann['id']!r}"
        if ann["image_id"] not in images:
            raise BadInputError(
                f"{ann_file}: {where} refers to image_id={ann['image_id']!r}, which is not "
                "in 'images'; fix or remove the annotation"
            )
        if ann["category_id"] not in category_ids:
            raise BadInputError(
                f"{ann_file}: {where} has category_id={ann['category_id']!r}, which is not in "
                f"'categories' (ids {sorted(category_ids)}); fix the annotation or add the category"
            )
        if not category_ids[ann["category_id"]]:
            continue
        counts[ann["image_id"]] = counts.get(ann["image_id"], 0) + 1
        problem = _geometry_problem(ann, ann_file, where)
        if problem:
            degenerate.append(f"{where} (image id {ann['image_id']!r}): {problem}")
    return counts, degenerate, sum(counts.values())


def _geometry_problem(ann: dict, ann_file: str, where: str) -> str | None:
    bbox = ann["bbox"]
    if not (
        isinstance(bbox, list)
        and len(bbox) == 4
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in bbox)
    ):
        raise BadInputError(
            f"{ann_file}: {where} has bbox={bbox!r}; it must be [x, y, width, height] numbers"
        )
    if bbox[2] <= 0 or bbox[3] <= 0:
        return f"bbox size {bbox[2]} x {bbox[3]} is not positive"
    polygons = ann.get("segmentation")
    if not isinstance(polygons, list):  # absent, or RLE (crowd regions)
        return None
    for index, polygon in enumerate(polygons):
        if not isinstance(polygon, list) or len(polygon) % 2:
            return f"segmentation[{index}] is not a flat list of x, y pairs"
        if len(polygon) < 6:
            return f"segmentation[{index}] has {len(polygon) // 2} points (a polygon needs >= 3)"
    return None


def _degenerate_verdict(ann_file: str, degenerate: list[str], used: int) -> list[str]:
    if not degenerate:
        return []
    summary = (
        f"{ann_file}: {len(degenerate)} of {used} annotations of the config's classes are "
        f"degenerate, e.g. {degenerate[0]}"
    )
    if len(degenerate) > MAX_DEGENERATE_FRACTION * used:
        raise BadInputError(
            f"{summary}; fix or remove them (above {MAX_DEGENERATE_FRACTION:.1%} the file is "
            "treated as broken; mmdet would silently drop them)"
        )
    return [f"{summary}; mmdet drops them"]


def _check_image_files(ann_file: str, image_dir: str, images: list[dict]) -> None:
    missing = []
    for image in images:
        path = osp.join(image_dir, image["file_name"])
        try:
            size = os.stat(path).st_size
        except OSError:
            missing.append(image["file_name"])
            continue
        if size == 0:
            raise BadInputError(
                f"image {path} is empty (0 bytes); replace it or remove image id "
                f"{image['id']!r} from {ann_file}"
            )
    if missing:
        raise BadInputError(
            f"{len(missing)} of {len(images)} images listed in {ann_file} are missing under "
            f"{image_dir!r} (first: {missing[0]!r}); point data_root / data_prefix.img at the "
            "image folder"
        )
