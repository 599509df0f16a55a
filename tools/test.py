"""Test (and evaluate) a detector: mmdet 3.3.0's ``tools/test.py`` with this package registered.

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out RESULT.pkl]
        [--show] [--show-dir DIR] [--tta] [--cfg-options k=v ...] [--launcher ...]

The checkpoint is loaded with ``torch.load(weights_only=True)`` and must fit the config's
model; bad input exits with status 2 (docs/tools.md, docs/reliability.md).
"""

import sys

import mmdet_evonorm  # noqa: F401  (registers the package's modules and hooks)
from mmdet_evonorm.engine.cli import run_test as main

if __name__ == "__main__":
    sys.exit(main())
