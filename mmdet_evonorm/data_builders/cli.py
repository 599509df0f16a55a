"""The command lines of ``tools/build_nuclei_dataset.py`` and ``tools/make_synthetic_coco.py``.

Each returns the exit status; bad input ends as one ``error:`` line, status 2.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from mmdet_evonorm.checks import ArgumentParser, exits_on_bad_input

from .nuclei import ensure_nuclei_dataset
from .synthetic import make_synthetic_coco


@exits_on_bad_input
def build_nuclei(argv: list[str] | None = None, *, repo: Path) -> int:
    """``tools/build_nuclei_dataset.py``: defaults under ``repo/data``."""
    parser = ArgumentParser(description="Build the embedded nuclei COCO set.")
    parser.add_argument("--out", type=Path, default=repo / "data" / "nuclei", help="dataset root")
    parser.add_argument(
        "--cache",
        type=Path,
        default=repo / "data" / "sources",
        help="where the wheel is downloaded",
    )
    parser.add_argument("--wheel", type=Path, help="use this stardist 0.9.2 wheel")
    parser.add_argument("--force", action="store_true", help="replace whatever is in --out")
    args = parser.parse_args(argv)
    out, action = ensure_nuclei_dataset(args.out, args.wheel, args.cache, args.force)
    print(f"nuclei dataset {action}: {out}")
    return 0


def _split(text: str) -> tuple[str, int]:
    name, _, count = text.partition("=")
    if not name or not count.isdigit():
        raise argparse.ArgumentTypeError(f"expected NAME=COUNT, got {text!r}")
    return name, int(count)


@exits_on_bad_input
def make_synthetic(argv: list[str] | None = None) -> int:
    """``tools/make_synthetic_coco.py``."""
    parser = ArgumentParser(
        description="Write the small synthetic COCO instance-segmentation set used by the tests."
    )
    parser.add_argument("out", help="dataset root to create")
    parser.add_argument("--splits", nargs="+", type=_split, default=[("train", 8), ("val", 3)])
    parser.add_argument("--size", type=int, default=128, help="image side in pixels")
    parser.add_argument("--classes", type=int, default=3, help="number of shape classes (1-3)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    for name, count in args.splits:
        ann_file = make_synthetic_coco(args.out, name, count, args.size, args.classes, args.seed)
        print(f"wrote {ann_file} ({count} images)")
    return 0
