"""Measurement: one harness and the subjects it measures (``tools/benchmark*.py``).

The harness needs torch (and mmengine) only, so the EvoNorm-S0 subject runs before
mmcv is built (``MMDET_EVONORM_KERNELS_ONLY=1``):

.. code-block:: none

    timing.py   the clock (CUDA events on a GPU; wall and process CPU time on a CPU),
                rotated rounds, the median, same-round ratios (compare)
    machine.py  the machine line and the load over a run
    report.py   tables (Markdown / CSV), target checks, --out X.md + X.json
    cli.py      the common options (--device --threads --warmup --rounds --out) and
                the one main() every tool calls
    flops.py    the FLOP counter: 1 FLOP = 1 multiply-add, as mmengine's and mmcv's
                counters report
    build.py    a module from its config, this package registered, seeded weights

Subjects, each a module with ``run`` and its own options (:mod:`.cli`):
``norm`` (EvoNorm-S0 against BN / GN), ``necks``, ``heads``, ``model`` (one config)
and ``rows`` (every ablation row); ``detector`` and ``profile`` hold what the last
two share.
"""
