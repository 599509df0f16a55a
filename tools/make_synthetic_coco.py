"""Write the small synthetic COCO instance-segmentation set used by the tests.

    python tools/make_synthetic_coco.py OUT [--splits train=8 val=3] [--size 128]
        [--classes 3] [--seed 0]

OUT gets ``annotations/instances_<split>.json`` and ``<split>/NNNNNN.png``; the
same arguments give the same bytes. Existing annotation files are never
overwritten. See :mod:`mmdet_evonorm.data_builders.synthetic`.
"""

import argparse
import sys

from mmdet_evonorm.checks import ArgumentParser, exits_on_bad_input
from mmdet_evonorm.data_builders.synthetic import make_synthetic_coco


def _split(text: str) -> tuple[str, int]:
    name, _, count = text.partition("=")
    if not name or not count.isdigit():
        raise argparse.ArgumentTypeError(f"expected NAME=COUNT, got {text!r}")
    return name, int(count)


@exits_on_bad_input
def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(description=__doc__.splitlines()[0])
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


if __name__ == "__main__":
    sys.exit(main())
