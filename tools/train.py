"""Train a detector: mmdet 3.3.0's ``tools/train.py`` with this package registered.

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp]
        [--auto-scale-lr] [--cfg-options k=v ...] [--launcher none|pytorch|slurm|mpi]

Exit status 0 done, 2 bad input, 3 stopped at a non-finite loss. See docs/tools.md and
docs/reliability.md; the logic is in :mod:`mmdet_evonorm.engine.cli`.
"""

import sys

import mmdet_evonorm  # noqa: F401  (registers the package's modules and hooks)
from mmdet_evonorm.engine.cli import run_train as main

if __name__ == "__main__":
    sys.exit(main())
