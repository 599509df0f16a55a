"""Build the embedded nuclei COCO set (see ``mmdet_evonorm/data_builders/nuclei.py``).

    python tools/build_nuclei_dataset.py                 # -> data/nuclei (cached)
    python tools/build_nuclei_dataset.py --out DIR --wheel stardist-0.9.2-....whl

Downloads ``stardist==0.9.2`` with pip into ``data/sources`` (only two TIFF files of
the wheel are read), tiles them and writes a deterministic COCO dataset. An existing
valid build is reused; anything else in ``--out`` is left alone unless ``--force``.
"""

import sys
from pathlib import Path

from mmdet_evonorm.data_builders.cli import build_nuclei

if __name__ == "__main__":
    sys.exit(build_nuclei(repo=Path(__file__).resolve().parents[1]))
