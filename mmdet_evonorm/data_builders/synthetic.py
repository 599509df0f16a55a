r"""A tiny deterministic COCO instance-segmentation set of filled shapes (for tests).

Each image is a noisy grey background split into a 2 x 2 grid; a cell holds at
most one filled shape (square, disc or triangle, in a random colour), so the
instances never overlap and every polygon is exactly the painted region::

    +---------+---------+     annotations/instances_<split>.json
    |  [sq]   |         |     <split>/000000.png, 000001.png, ...
    |         |   /\    |
    +---------+--/--\---+     segmentation: one polygon per instance
    |   (o)   |         |     bbox = polygon extent, area = polygon area,
    |         |  [sq]   |     iscrowd = 0
    +---------+---------+

The same ``seed`` and arguments give the same JSON and PNG bytes on every run.
"""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import cv2
import numpy as np

from ..checks import BadInputError
from ..checks.files import check_creatable_dir

CLASSES = ("square", "disc", "triangle")
GRID = 2  # cells per side
DISC_VERTICES = 16


def _shape_polygon(rng: np.random.Generator, label: int, cell: tuple[int, int, int]):
    """Integer ``(k, 2)`` vertices of one shape inside the square cell ``(x0, y0, side)``."""
    x0, y0, side = cell
    radius = rng.uniform(0.22, 0.42) * side
    margin = radius + 1
    cx = x0 + rng.uniform(margin, side - margin)
    cy = y0 + rng.uniform(margin, side - margin)
    turn = rng.uniform(0, 2 * np.pi)
    corners = {0: 4, 1: DISC_VERTICES, 2: 3}[label]
    angles = turn + np.arange(corners) * 2 * np.pi / corners
    points = np.stack([cx + radius * np.cos(angles), cy + radius * np.sin(angles)], 1)
    return np.round(points).astype(np.int32)


def _polygon_area(points: np.ndarray) -> float:
    x, y = points[:, 0].astype(np.float64), points[:, 1].astype(np.float64)
    return float(abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2)


def _draw_image(rng: np.random.Generator, size: int, num_classes: int):
    """Return ``(image, [(label, polygon), ...])`` for one image."""
    base = int(rng.integers(60, 110))
    image = np.clip(base + rng.normal(0, 12, (size, size, 3)), 0, 255).astype(np.uint8)
    side = size // GRID
    cells = [(cx * side, cy * side, side) for cy in range(GRID) for cx in range(GRID)]
    occupied = rng.random(len(cells)) < 0.6
    occupied[rng.integers(len(cells))] = True  # at least one instance per image
    shapes = []
    for cell, used in zip(cells, occupied, strict=True):
        if not used:
            continue
        label = int(rng.integers(num_classes))
        polygon = _shape_polygon(rng, label, cell)
        colour = tuple(int(c) for c in rng.integers(150, 256, 3))
        cv2.fillPoly(image, [polygon], colour)
        shapes.append((label, polygon))
    return image, shapes


def _annotation(ann_id: int, image_id: int, label: int, polygon: np.ndarray) -> dict:
    x_min, y_min = polygon.min(0).tolist()
    x_max, y_max = polygon.max(0).tolist()
    return dict(
        id=ann_id,
        image_id=image_id,
        category_id=label + 1,
        segmentation=[[float(v) for v in polygon.reshape(-1)]],
        bbox=[float(x_min), float(y_min), float(x_max - x_min), float(y_max - y_min)],
        area=_polygon_area(polygon),
        iscrowd=0,
    )


def make_synthetic_coco(
    out_dir: str | Path,
    split: str = "train",
    num_images: int = 8,
    image_size: int = 128,
    num_classes: int = 3,
    seed: int = 0,
) -> Path:
    """Write one split of the synthetic set and return its annotation file.

    Args:
        out_dir (str | Path): Dataset root; gets ``annotations/instances_<split>.json``
            and ``<split>/NNNNNN.png``.
        split (str): Split name. Each split draws from its own stream of
            ``(seed, split)``, so splits differ but are each reproducible.
        num_images (int): Number of images. Defaults to 8.
        image_size (int): Side of the square images in pixels. Defaults to 128.
        num_classes (int): 1 to 3 shape classes (``CLASSES[:num_classes]``).
        seed (int): Random seed. Defaults to 0.

    Returns:
        Path: The annotation file.

    Raises:
        BadInputError: For an unsupported ``num_classes`` or ``image_size``, an
            ``out_dir`` that cannot be a folder, or an annotation file that exists.
    """
    if not 1 <= num_classes <= len(CLASSES):
        raise BadInputError(f"num_classes must be 1..{len(CLASSES)}, got {num_classes}")
    if image_size < 32:
        raise BadInputError(f"image_size must be at least 32 px, got {image_size}")
    check_creatable_dir(str(out_dir), "OUT")
    root = Path(out_dir)
    ann_file = root / "annotations" / f"instances_{split}.json"
    if ann_file.exists():
        raise BadInputError(f"{ann_file} already exists; remove it or choose another folder")
    (root / split).mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng([seed, zlib.crc32(split.encode())])
    images, annotations = [], []
    for image_id in range(num_images):
        image, shapes = _draw_image(rng, image_size, num_classes)
        file_name = f"{image_id:06d}.png"
        ok, png = cv2.imencode(".png", image)
        assert ok, "PNG encoding failed"
        (root / split / file_name).write_bytes(png.tobytes())
        images.append(dict(id=image_id, file_name=file_name, width=image_size, height=image_size))
        for label, polygon in shapes:
            annotations.append(_annotation(len(annotations) + 1, image_id, label, polygon))
    categories = [
        dict(id=i + 1, name=n, supercategory="shape") for i, n in enumerate(CLASSES[:num_classes])
    ]
    info = dict(description="mmdet_evonorm synthetic shapes", split=split, seed=seed, version="1")
    coco = dict(
        info=info, licenses=[], images=images, annotations=annotations, categories=categories
    )
    ann_file.parent.mkdir(parents=True, exist_ok=True)
    ann_file.write_text(json.dumps(coco, separators=(",", ":")) + "\n")
    return ann_file
