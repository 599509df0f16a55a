"""Cost of one detector config (``mmdet_evonorm.benchmark.model``).

Examples::

    python tools/benchmark.py configs/mask_rcnn_fpn3_evonorm.py
    python tools/benchmark.py configs/mask_rcnn_fpn3_sephv2_evonorm_cosine.py --profile
    python tools/benchmark.py configs/mask_rcnn_fpn3_evonorm.py --device cuda --amp \\
        --input 800x1333 --batch 8 --rounds 20
"""

import sys

from mmdet_evonorm.benchmark import cli, model

if __name__ == "__main__":
    sys.exit(cli.main(model))
