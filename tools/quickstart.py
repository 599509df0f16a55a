"""``make quickstart``: train and evaluate a CPU-sized Mask R-CNN on the embedded nuclei set.

    python tools/quickstart.py [--work-dir work_dirs/quickstart] [--max-iters N] [--threads N]

See docs/quickstart.md; the logic is in :mod:`mmdet_evonorm.quickstart`.
"""

import sys
from pathlib import Path

from mmdet_evonorm.quickstart import main

if __name__ == "__main__":
    sys.exit(main(repo=Path(__file__).resolve().parents[1]))
