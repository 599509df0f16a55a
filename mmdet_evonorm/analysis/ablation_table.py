"""Tables and chart of an ablation: the seed log's 12 numbers as mean ± std per row.

Each row of ``tools/ablate.py`` has several runs (folds x seeds), each read with
:func:`~.results_table.read_run` like ``tools/summarize.py`` reads a work dir. A
cell is the mean over the row's finished runs ± their sample standard deviation
(``statistics.stdev``, n - 1 in the denominator; no ± with a single run). Δ is the
difference of the mean mAP to the first row's; train time is minutes per run (the
logged iteration times summed), eval time the test's seconds per image.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from pathlib import Path

from mmdet_evonorm.evaluation import COCO_STAT_NAMES
from mmdet_evonorm.rows import ROWS

from .results_table import SEED_COLUMNS, RunResult, plot_grouped_bars

IOU_TYPES = ("bbox", "segm")


@dataclass
class RowRuns:
    """One ablation row: its label, config and the results of its finished runs."""

    label: str
    config: str
    runs: list[RunResult] = field(default_factory=list)
    failed: int = 0

    def values(self, key: str) -> list[float]:
        return [r.metrics[key] for r in self.runs if r.metrics.get(key) is not None]

    def costs(self, attribute: str) -> list[float]:
        return [v for r in self.runs if (v := getattr(r, attribute)) is not None]


def mean_std(values: list[float]) -> tuple[float | None, float | None]:
    """Mean and sample std (None without values; std None for a single value)."""
    if not values:
        return None, None
    return statistics.mean(values), statistics.stdev(values) if len(values) > 1 else None


def format_mean_std(values: list[float], spec: str = ".3f") -> str:
    """``'0.595 ± 0.012'``, ``'0.595'`` for one value, ``'—'`` for none."""
    mean, std = mean_std(values)
    if mean is None:
        return "—"
    return format(mean, spec) if std is None else f"{mean:{spec}} ± {std:{spec}}"


def _delta(row: RowRuns, first: RowRuns, iou_type: str) -> str:
    mean, _ = mean_std(row.values(f"{iou_type}_mAP"))
    base, _ = mean_std(first.values(f"{iou_type}_mAP"))
    return "—" if mean is None or base is None else f"{mean - base:+.3f}"


def render_ablation_tables(rows: list[RowRuns]) -> str:
    """Markdown: a bbox and a segm table, one line per row, in the seed log's columns."""
    seed = {r.id: r for r in ROWS}
    out = []
    for iou_type in IOU_TYPES:
        head = ["row", "config", "runs", *SEED_COLUMNS, f"ΔmAP vs {rows[0].label}", "seed mAP"]
        head += ["train (min/run)", "eval (s/img)"]
        out += [f"#### {iou_type}", "", "|" + "|".join(head) + "|", "|" + "---|" * len(head)]
        for row in rows:
            seed_ap = getattr(seed[row.label], f"seed_{iou_type}_ap") if row.label in seed else None
            runs = f"{len(row.runs)}" + (f" (+{row.failed} failed)" if row.failed else "")
            cells = [row.label, Path(row.config).name, runs]
            cells += [format_mean_std(row.values(f"{iou_type}_{n}")) for n in COCO_STAT_NAMES]
            cells += [_delta(row, rows[0], iou_type), "—" if seed_ap is None else f"{seed_ap:.3f}"]
            cells += [format_mean_std([h * 60 for h in row.costs("train_hours")], ".1f")]
            cells += [format_mean_std(row.costs("eval_s_per_img"), ".4f")]
            out.append("|" + "|".join(cells) + "|")
        out.append("")
    return "\n".join(out)


def plot_ablation_ap(rows: list[RowRuns], path: Path) -> None:
    """Bars of mean bbox and segm mAP per row with ± 1 sample-std error bars (PNG)."""
    series = {}
    for iou_type in IOU_TYPES:
        stats = [mean_std(row.values(f"{iou_type}_mAP")) for row in rows]
        series[iou_type] = ([m or 0.0 for m, _ in stats], [s or 0.0 for _, s in stats])
    plot_grouped_bars([row.label for row in rows], series, path)
