"""Compile EvoNorm-S0's Triton kernels for sm_80 and sm_90 (no GPU) and report their resources.

    python tools/triton_compile_report.py                            # print the section
    python tools/triton_compile_report.py --out docs/benchmarks.md   # replace it there

Exit status 1 when a variant fails to compile, spills or exceeds a limit; 2 on bad
input. The logic and what the section holds:
:mod:`mmdet_evonorm.models.layers.evonorm_triton_report`.
"""

import sys

from mmdet_evonorm.models.layers.evonorm_triton_report import main

if __name__ == "__main__":
    sys.exit(main())
