"""EvoNorm-S0 against BN+ReLU and GN+ReLU, on CPU or CUDA (``mmdet_evonorm.benchmark.norm``).

Examples::

    python tools/benchmark_norm.py [--threads 1] [--rounds 30]
    python tools/benchmark_norm.py --device cuda --out norm_cuda.md
"""

import sys

from mmdet_evonorm.benchmark import cli, norm

if __name__ == "__main__":
    sys.exit(cli.main(norm))
