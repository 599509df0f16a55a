"""Re-estimate a trained checkpoint's BN statistics (Precise BN) into a new checkpoint.

    python tools/precise_bn.py CONFIG CHECKPOINT --out NEW_CHECKPOINT [--batches K]
        [--scope roi_head] [--cfg-options k=v ...]

The RoI heads' BN layers (``--scope``) get the population statistics of K training
batches in loss mode (mmdet_evonorm/engine/precise_bn.py); nothing else changes. The
input is never overwritten: an existing ``--out``, a missing checkpoint or a scope
without BN layers ends as one ``error:`` line, exit status 2 (docs/tools.md).
"""

import sys

import mmdet_evonorm  # noqa: F401  (registers the package's modules and hooks)
from mmdet_evonorm.engine.cli import run_precise_bn as main

if __name__ == "__main__":
    sys.exit(main())
