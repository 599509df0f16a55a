"""Build the embedded nuclei COCO set (see ``mmdet_evonorm/data_builders/nuclei.py``).

    python tools/build_nuclei_dataset.py                 # -> data/nuclei (cached)
    python tools/build_nuclei_dataset.py --out DIR --wheel stardist-0.9.2-....whl

Downloads ``stardist==0.9.2`` with pip into ``data/sources`` (only two TIFF files of
the wheel are read), tiles them and writes a deterministic COCO dataset. An existing
valid build is reused; anything else in ``--out`` is left alone unless ``--force``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mmdet_evonorm.checks import ArgumentParser, exits_on_bad_input
from mmdet_evonorm.data_builders.nuclei import ensure_nuclei_dataset

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "data" / "nuclei"
DEFAULT_CACHE = REPO / "data" / "sources"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="dataset root")
    parser.add_argument(
        "--cache", type=Path, default=DEFAULT_CACHE, help="where the wheel is downloaded"
    )
    parser.add_argument("--wheel", type=Path, help="use this stardist 0.9.2 wheel")
    parser.add_argument("--force", action="store_true", help="replace whatever is in --out")
    return parser.parse_args(argv)


@exits_on_bad_input
def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out, action = ensure_nuclei_dataset(args.out, args.wheel, args.cache, args.force)
    print(f"nuclei dataset {action}: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
