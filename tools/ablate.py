"""Run a set of ablation rows over folds and seeds; write their tables and chart.

    python tools/ablate.py B1 C1 C2 --preset nuclei --folds 3 --seeds 1 --iters 400
    python tools/ablate.py B1 C4 --preset coco --schedule 0.1 --train-subset 20000

Exit status: 0 done, 1 some run failed, 2 bad input. See docs/tools.md; the logic is in
:mod:`mmdet_evonorm.ablation` (:mod:`~mmdet_evonorm.ablation.cli` for the options).
"""

import sys
from pathlib import Path

from mmdet_evonorm.ablation.cli import main

if __name__ == "__main__":
    sys.exit(main(repo=Path(__file__).resolve().parents[1]))
