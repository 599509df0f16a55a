"""RoI box heads' size and forward+backward time (``mmdet_evonorm.benchmark.heads``).

Examples::

    python tools/benchmark_heads.py                       # CPU, default threads
    python tools/benchmark_heads.py --rounds 5 --threads 2
    python tools/benchmark_heads.py --with-res5           # + the C3 res5 box path (slow)
    python tools/benchmark_heads.py --device cuda
"""

import sys

from mmdet_evonorm.benchmark import cli, heads

if __name__ == "__main__":
    sys.exit(cli.main(heads))
