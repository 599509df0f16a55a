"""Write the small synthetic COCO instance-segmentation set used by the tests.

    python tools/make_synthetic_coco.py OUT [--splits train=8 val=3] [--size 128]
        [--classes 3] [--seed 0]

OUT gets ``annotations/instances_<split>.json`` and ``<split>/NNNNNN.png``; the
same arguments give the same bytes. Existing annotation files are never
overwritten. See :mod:`mmdet_evonorm.data_builders.synthetic`.
"""

import sys

from mmdet_evonorm.data_builders.cli import make_synthetic

if __name__ == "__main__":
    sys.exit(make_synthetic())
