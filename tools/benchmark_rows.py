"""Cost of every ablation row, with ratios against B1 (``mmdet_evonorm.benchmark.rows``).

Examples::

    # CPU, every row: 2 images of 288x384, 5 rounds, 1 thread (~15 min on 2 busy cores)
    python tools/benchmark_rows.py --out docs/benchmarks_rows.md --profile B1 C3 C4
    # one GPU, full resolution, B1 and C4 (< 5 min)
    python tools/benchmark_rows.py --rows B1 C4 --device cuda --amp --input 800x1333 \\
        --batch 8 --threads 8 --warmup 3 --rounds 10 --out docs/benchmarks_rows_gpu.md
    # trained CPU variants: C4 vs B1 inference on the same test images, C4 also ungated
    python tools/benchmark_rows.py --checkpoint B1=work_dirs/b1/iter_400.pth \\
        C4=work_dirs/c4/iter_400.pth --ungated C4 --batch 1 --rounds 10
"""

import sys

from mmdet_evonorm.benchmark import cli, rows

if __name__ == "__main__":
    sys.exit(cli.main(rows))
