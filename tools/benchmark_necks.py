"""Cost of the neck stages relative to the FPN alone (``mmdet_evonorm.benchmark.necks``).

Example::

    python tools/benchmark_necks.py --out necks.md  # the table of docs/benchmarks.md
"""

import sys

from mmdet_evonorm.benchmark import cli, necks

if __name__ == "__main__":
    sys.exit(cli.main(necks))
