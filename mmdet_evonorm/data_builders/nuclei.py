"""The embedded nuclei set: real DSB2018 nuclei tiled into a small COCO dataset.

Source: the 512x512 fluorescence image and its 125-nucleus label image that the
``stardist`` wheel ships as test data (``stardist/data/images/img2d.tif`` and
``mask2d.tif``; stardist is BSD-3-Clause, the image comes from the 2018 Kaggle Data
Science Bowl, BBBC038, Caicedo et al., Nature Methods 16, 2019). Only those two files
are read out of the wheel; stardist is never installed.

Layout (pixels of the source image)::

    0         128        256        384        512
    +----------+----------+----------+----------+ 0
    | train    | train    | train    | train    |
    +----------+----------+----------+----------+ 128
    | train    | train    | train    | train    |
    +----------+----------+---------------------+ 256
    | train    | train    |                     |
    +----------+----------+    val (one image)  |
    | train    | train    |                     |
    +----------+----------+---------------------+ 512

twelve 128x128 training tiles around one 256x256 validation image (the quickstart's
split, ``data/nuclei``). The K-fold sets of the ablation (:func:`ensure_nuclei_folds`)
use the same layout with the validation image on another quadrant: fold ``k``
validates on ``FOLD_ORIGINS[k]`` and trains on the twelve tiles of the other three
quadrants, so the last fold is the quickstart split. Nuclei cut by a
tile border are kept as truncated instances; a piece showing less than
``MIN_VISIBLE`` of its nucleus is marked ``iscrowd=1`` (ignored by mmdet's training
targets and by COCO evaluation), so neither training nor evaluation asks the model
about slivers.

Conversion: the uint16 image is mapped to 8 bits with fixed percentiles of the whole
image (1 % -> 0, 99.8 % -> 255) and written as a 3-channel PNG. Each instance becomes
COCO polygons traced by ``cv2.findContours`` on the mask upsampled 2x, so that the
polygons rasterise back (pycocotools) to exactly the source pixels; ``area`` is the
pixel count and ``bbox`` the pixel-edge box. The JSON is written with sorted keys and
exact (quarter-pixel) coordinates, so every build gives the same bytes.

Output (``out_dir``)::

    annotations/{train,val}.json   COCO instances, one category "nucleus"
    train/*.png, val/*.png         8-bit RGB tiles
    MANIFEST.json                  recipe + sha256 of every file above (cache check)
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..checks import BadInputError

#: Bump when the output of the builder changes (invalidates caches).
FORMAT_VERSION = 1
STARDIST_REQUIREMENT = "stardist==0.9.2"
#: Fetch the same wheel on every machine (only its data files are used).
_PIP_PLATFORM = [
    "--only-binary=:all:",
    "--platform",
    "manylinux_2_28_x86_64",
    "--python-version",
    "3.11",
    "--implementation",
    "cp",
    "--abi",
    "cp311",
]
#: Members read from the wheel and the sha256 of their bytes.
SOURCE_FILES = {
    "image": (
        "stardist/data/images/img2d.tif",
        "f9ccc1571b92c861ff87e28463068b43f61bd47357ed0503f711e5cd1eb97750",
    ),
    "mask": (
        "stardist/data/images/mask2d.tif",
        "59ad5e820b7982ca9d13e946fa6e7f64e2714899e00a2ae6c69aa79aad53d46f",
    ),
}
SOURCE_SHAPE = (512, 512)
TILE = 128
VAL_ORIGIN = (256, 256)  # (y, x) of the 256x256 validation image
VAL_SIZE = 256
#: (y, x) of the validation quadrant of each K-fold set, fold 0 first.
FOLD_ORIGINS = ((0, 0), (0, 256), (256, 0), VAL_ORIGIN)
PERCENTILES = (1.0, 99.8)
MIN_VISIBLE = 0.25
CATEGORY = {"id": 1, "name": "nucleus", "supercategory": "cell"}
MANIFEST = "MANIFEST.json"

LICENSES = [
    {
        "id": 1,
        "name": "BBBC038v1 (2018 Data Science Bowl) image and masks, CC0 1.0 as stated "
        "by dataset mirrors; not verified at the source",
        "url": "https://bbbc.broadinstitute.org/BBBC038",
    }
]
INFO = {
    "description": "DSB2018 nuclei (one fluorescence image of BBBC038v1) tiled for "
    "mmdet_evonorm's quickstart",
    "version": str(FORMAT_VERSION),
    "contributor": "Caicedo et al., Nature Methods 16, 1247-1253 (2019); file shipped "
    "by stardist (BSD-3-Clause, Schmidt & Weigert)",
    "url": "https://bbbc.broadinstitute.org/BBBC038",
    "source": {
        "package": STARDIST_REQUIREMENT,
        "files": dict(SOURCE_FILES.values()),
        "package_license": "BSD-3-Clause",
    },
}


class NucleiDatasetError(BadInputError):
    """A user-facing failure of the builder (bad input, conflicting output)."""


@dataclass(frozen=True)
class Tile:
    """One output image: its split, file name and window in the source image."""

    split: str
    y: int
    x: int
    size: int

    @property
    def file_name(self) -> str:
        return f"nuclei_y{self.y:03d}_x{self.x:03d}.png"

    def crop(self, array: np.ndarray) -> np.ndarray:
        return array[self.y : self.y + self.size, self.x : self.x + self.size]


def tiles(val_origin: tuple[int, int] = VAL_ORIGIN) -> list[Tile]:
    """The fixed layout: 128 px training tiles around one 256 px validation image."""
    vy, vx = val_origin
    out = [Tile("val", vy, vx, VAL_SIZE)]
    for y in range(0, SOURCE_SHAPE[0], TILE):
        for x in range(0, SOURCE_SHAPE[1], TILE):
            if not (vy <= y < vy + VAL_SIZE and vx <= x < vx + VAL_SIZE):
                out.append(Tile("train", y, x, TILE))
    return out


def recipe(val_origin: tuple[int, int] = VAL_ORIGIN) -> dict:
    """Everything the output depends on; a cache built from another recipe is stale."""
    return {
        "format_version": FORMAT_VERSION,
        "source": {key: sha for key, (_, sha) in SOURCE_FILES.items()},
        "tile": TILE,
        "val_origin": list(val_origin),
        "val_size": VAL_SIZE,
        "percentiles": list(PERCENTILES),
        "min_visible": MIN_VISIBLE,
    }


# ----------------------------------------------------------------------------- source


def download_wheel(cache_dir: Path) -> Path:
    """Return the stardist wheel in ``cache_dir``, fetching it with pip if absent."""
    pattern = STARDIST_REQUIREMENT.replace("==", "-") + "-*.whl"
    found = sorted(Path(cache_dir).glob(pattern))
    if found:
        return found[0]
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "-q"]
    cmd += ["--disable-pip-version-check", *_PIP_PLATFORM, "-d", str(cache_dir)]
    proc = subprocess.run([*cmd, STARDIST_REQUIREMENT], capture_output=True, text=True)
    found = sorted(Path(cache_dir).glob(pattern))
    if proc.returncode != 0 or not found:
        reason = (proc.stderr.strip().splitlines() or ["no wheel written"])[-1]
        raise NucleiDatasetError(
            f"could not download {STARDIST_REQUIREMENT} with pip ({reason}); check the "
            f"network, or put the wheel (pip download --no-deps) into {cache_dir}"
        )
    return found[0]


def read_source(wheel: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read and verify (sha256) the image and label mask inside the stardist wheel."""
    wheel = Path(wheel)
    if not wheel.is_file():
        raise NucleiDatasetError(
            f"wheel not found: {wheel}; give a {STARDIST_REQUIREMENT} wheel or leave out "
            "--wheel to download it"
        )
    try:
        with zipfile.ZipFile(wheel) as zf:
            blobs = {key: zf.read(member) for key, (member, _) in SOURCE_FILES.items()}
    except (zipfile.BadZipFile, KeyError) as err:
        raise NucleiDatasetError(
            f"{wheel} is not a {STARDIST_REQUIREMENT} wheel with the nuclei test data "
            f"({err}); replace it with a fresh download"
        ) from err
    arrays = []
    for key, (member, sha) in SOURCE_FILES.items():
        if hashlib.sha256(blobs[key]).hexdigest() != sha:
            raise NucleiDatasetError(f"{wheel}:{member} has unexpected content (sha256)")
        array = cv2.imdecode(np.frombuffer(blobs[key], np.uint8), cv2.IMREAD_UNCHANGED)
        arrays.append(array)
    return arrays[0], arrays[1]


# ------------------------------------------------------------------------- conversion


def to_rgb8(image: np.ndarray) -> np.ndarray:
    """Map the fluorescence image to uint8 by fixed percentiles; replicate to RGB."""
    lo, hi = np.percentile(image.astype(np.float64), PERCENTILES)
    scaled = np.clip((image - lo) / (hi - lo), 0.0, 1.0) * 255.0
    gray = np.rint(scaled).astype(np.uint8)
    return np.repeat(gray[:, :, None], 3, axis=2)


def mask_to_polygons(binary: np.ndarray) -> list[list[float]]:
    """COCO polygons of a binary mask that rasterise back to exactly its pixels.

    Contours are traced on the mask upsampled 2x (nearest); mapping a contour point
    ``u`` back with ``(u + 0.5) / 2`` puts the polygon a quarter pixel inside the
    pixel edges, where pycocotools' polygon fill recovers the original pixels.
    """
    up = cv2.resize(binary.astype(np.uint8), None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST)
    contours, _ = cv2.findContours(up, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    polygons = []
    for contour in contours:
        points = (contour.reshape(-1, 2).astype(np.float64) + 0.5) / 2.0
        if len(points) >= 3:
            polygons.append([round(float(v), 2) for v in points.ravel()])
    return polygons


def tile_annotations(labels: np.ndarray, full_areas: dict[int, int]) -> Iterator[dict]:
    """COCO annotations (without ids) of every nucleus visible in a label tile."""
    for label in np.unique(labels[labels > 0]):
        binary = labels == label
        ys, xs = np.nonzero(binary)
        area = int(len(ys))
        yield {
            "area": area,
            "bbox": [int(xs.min()), int(ys.min()), int(np.ptp(xs)) + 1, int(np.ptp(ys)) + 1],
            "category_id": CATEGORY["id"],
            "iscrowd": int(area < MIN_VISIBLE * full_areas[int(label)]),
            "segmentation": mask_to_polygons(binary),
        }


def build_coco(
    image: np.ndarray, mask: np.ndarray, val_origin: tuple[int, int] = VAL_ORIGIN
) -> dict[str, tuple[dict, dict]]:
    """Tile the source into ``{split: (coco_dict, {file_name: rgb_uint8})}``."""
    if image.shape != SOURCE_SHAPE or mask.shape != SOURCE_SHAPE:
        raise NucleiDatasetError(f"source image/mask must be {SOURCE_SHAPE}")
    rgb = to_rgb8(image)
    labels, counts = np.unique(mask, return_counts=True)
    full_areas = dict(zip(labels.tolist(), counts.tolist(), strict=True))
    splits: dict[str, tuple[dict, dict]] = {}
    ann_id = 0
    for image_id, tile in enumerate(tiles(val_origin), start=1):
        coco, pixels = splits.setdefault(tile.split, (_empty_coco(), {}))
        pixels[tile.file_name] = tile.crop(rgb)
        coco["images"].append(
            {
                "id": image_id,
                "file_name": tile.file_name,
                "height": tile.size,
                "width": tile.size,
                "license": 1,
            }
        )
        for ann in tile_annotations(tile.crop(mask), full_areas):
            ann_id += 1
            coco["annotations"].append({**ann, "id": ann_id, "image_id": image_id})
    return splits


def _empty_coco() -> dict:
    return {
        "info": INFO,
        "licenses": LICENSES,
        "categories": [CATEGORY],
        "images": [],
        "annotations": [],
    }


def coco_json_bytes(coco: dict) -> bytes:
    """The canonical serialisation: sorted keys, compact, trailing newline."""
    return (json.dumps(coco, sort_keys=True, separators=(",", ":")) + "\n").encode()


# ----------------------------------------------------------------------------- output


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_dataset(
    splits: dict[str, tuple[dict, dict]], out_dir: Path, val_origin: tuple[int, int] = VAL_ORIGIN
) -> None:
    """Write annotations, PNG tiles and the manifest into an empty ``out_dir``."""
    files = {}
    for split, (coco, pixels) in sorted(splits.items()):
        ann_path = out_dir / "annotations" / f"{split}.json"
        ann_path.parent.mkdir(parents=True, exist_ok=True)
        ann_path.write_bytes(coco_json_bytes(coco))
        files[f"annotations/{split}.json"] = _sha256(ann_path)
        for name, rgb in sorted(pixels.items()):
            png = out_dir / split / name
            png.parent.mkdir(parents=True, exist_ok=True)
            ok, buf = cv2.imencode(".png", rgb[:, :, ::-1])  # RGB -> cv2's BGR order
            assert ok, name
            png.write_bytes(buf.tobytes())
            files[f"{split}/{name}"] = _sha256(png)
    manifest = {"recipe": recipe(val_origin), "files": files}
    (out_dir / MANIFEST).write_text(json.dumps(manifest, sort_keys=True, indent=1) + "\n")


def cache_state(out_dir: Path, val_origin: tuple[int, int] = VAL_ORIGIN) -> str:
    """``'missing'``, ``'valid'``, ``'stale'`` (only an unmodified build of an older
    recipe) or ``'foreign'`` (anything else, e.g. a modified build or added files)."""
    out_dir = Path(out_dir)
    if not out_dir.exists() or (out_dir.is_dir() and not any(out_dir.iterdir())):
        return "missing"
    try:
        manifest = json.loads((out_dir / MANIFEST).read_text())
        files = manifest["files"]
        intact = all(_sha256(out_dir / rel) == sha for rel, sha in files.items())
    except (OSError, ValueError, KeyError, TypeError):
        return "foreign"
    if not intact:
        return "foreign"
    if manifest.get("recipe") == recipe(val_origin):
        return "valid"
    present = {str(p.relative_to(out_dir)) for p in out_dir.rglob("*") if p.is_file()}
    return "stale" if present == {*files, MANIFEST} else "foreign"  # extra files: not ours


def ensure_nuclei_dataset(
    out_dir: str | Path,
    wheel: str | Path | None = None,
    cache_dir: str | Path | None = None,
    force: bool = False,
    val_origin: tuple[int, int] = VAL_ORIGIN,
) -> tuple[Path, str]:
    """Build the dataset into ``out_dir`` unless a valid build is already there.

    Args:
        out_dir: Dataset root (``annotations/``, ``train/``, ``val/``).
        wheel: A local stardist 0.9.2 wheel to read instead of downloading.
        cache_dir: Where the wheel is looked up / downloaded to when ``wheel`` is
            None; defaults to ``sources/`` beside ``out_dir``.
        force: Replace whatever is in ``out_dir`` (otherwise only an empty/missing
            directory or an unmodified older build of this builder is replaced).
        val_origin: (y, x) of the validation quadrant (default: the quickstart's).

    Returns:
        ``(out_dir, action)`` with action ``'cached'``, ``'built'`` or ``'rebuilt'``.

    Raises:
        NucleiDatasetError: Bad input, download failure, or a different dataset in
            ``out_dir`` without ``force``.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise NucleiDatasetError(f"{out_dir} exists and is not a directory")
    state = cache_state(out_dir, val_origin)
    if state == "valid" and not force:
        return out_dir, "cached"
    if state == "foreign" and not force:
        raise NucleiDatasetError(
            f"{out_dir} holds files that are not an unmodified nuclei build; "
            "pass --force to replace them or choose another --out"
        )
    if wheel is None:
        cache_dir = Path(cache_dir or out_dir.parent / "sources")
        cache_dir.mkdir(parents=True, exist_ok=True)
        wheel = download_wheel(cache_dir)
    splits = build_coco(*read_source(Path(wheel)), val_origin)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}-", dir=out_dir.parent))
    try:
        write_dataset(splits, tmp, val_origin)
        if out_dir.exists():
            shutil.rmtree(out_dir)
        tmp.replace(out_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out_dir, "built" if state == "missing" else "rebuilt"


def ensure_nuclei_folds(
    root: str | Path, num_folds: int, cache_dir: str | Path | None = None
) -> list[Path]:
    """Build (or reuse) the first ``num_folds`` K-fold sets as ``root/fold_<k>``.

    Each is a full nuclei set (same builder, cache rules and manifest) whose
    validation image is quadrant ``FOLD_ORIGINS[k]``; the wheel is looked up in
    ``cache_dir`` (default ``sources/`` beside ``root``).

    Raises:
        NucleiDatasetError: ``num_folds`` outside 1..4, or a fold set that cannot
            be built (see :func:`ensure_nuclei_dataset`).
    """
    if not 1 <= num_folds <= len(FOLD_ORIGINS):
        raise NucleiDatasetError(
            f"--folds {num_folds}: the nuclei image has {len(FOLD_ORIGINS)} quadrants, so "
            f"the nuclei preset supports 1 to {len(FOLD_ORIGINS)} folds"
        )
    root = Path(root)
    cache_dir = Path(cache_dir or root.parent / "sources")
    return [
        ensure_nuclei_dataset(root / f"fold_{k}", cache_dir=cache_dir, val_origin=origin)[0]
        for k, origin in enumerate(FOLD_ORIGINS[:num_folds])
    ]
