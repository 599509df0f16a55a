"""Make a trusted foreign checkpoint loadable with ``torch.load(weights_only=True)``.

    python tools/convert_checkpoint.py IN.pth OUT.pth

Run it only on a file you trust: if IN does not load weights-only, it is
unpickled with ``weights_only=False``, which runs any code the file holds. OUT
(never overwritten) keeps the weights, optimizer and scheduler states and the
message hub in the form ``tools/test.py`` and ``--resume`` load safely.
"""

import sys

from mmdet_evonorm.engine.checkpoint_cli import main

if __name__ == "__main__":
    sys.exit(main())
