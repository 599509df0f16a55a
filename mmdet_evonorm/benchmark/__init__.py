"""Measurement: one harness and the subjects it measures (``tools/benchmark*.py``).

Harness (torch and mmengine only, so ``norm`` runs before mmcv is built):
:mod:`.timing` (clock, rotated rounds, same-round ratios), :mod:`.machine` (machine
line, load), :mod:`.report` (tables, targets, ``--out``), :mod:`.cli` (common options,
``main``), :mod:`.flops` (1 FLOP per multiply-add), :mod:`.build` (a seeded module).
Subjects: ``norm``, ``necks``, ``heads``, ``model`` (one config) and ``rows`` (every
ablation row); ``detector`` and ``profile`` hold what the last two share. What each
measures and how: docs/benchmarks.md and docs/benchmarks_rows.md.
"""
