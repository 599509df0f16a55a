"""Tables and chart of an ablation: the seed log's 12 numbers as mean ± std per row.

Each row of ``tools/ablate.py`` has several runs (folds x seeds), each read with
:func:`~.results_table.read_run` like ``tools/summarize.py`` reads a work dir. A
cell is the mean over the row's finished runs ± their sample standard deviation
(``statistics.stdev``, n - 1 in the denominator; no ± with a single run). Δ is the
difference of the mean mAP to the first row's; train time is minutes per run (the
logged iteration times summed), eval time the test's seconds per image.

Rows whose RoI heads hold BN also have evaluation arms (``ablation/execute.py``):
the same checkpoints after Precise BN and with test-time batch statistics. Their
table gives each arm and its paired change against the as-trained model; the paired
differences compare every row with the first one under the same arm, run by run on
the same fold and seed, with a 95 % paired-t interval::

    d_i = AP(row, fold k, seed s) - AP(first row, fold k, seed s)
    mean(d) ± t(0.975, n - 1) * stdev(d) / sqrt(n)

A row without BN in its heads is unchanged by an arm: its as-trained runs stand in.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path

from mmdet_evonorm.evaluation import COCO_STAT_NAMES
from mmdet_evonorm.rows import ROWS

from .results_table import SEED_COLUMNS, RunResult, plot_grouped_bars

IOU_TYPES = ("bbox", "segm")
TRAINED = "trained"
#: Evaluation arms and their titles, as-trained first.
ARM_TITLES = {
    TRAINED: "as trained (EMA statistics)",
    "precise_bn": "Precise BN",
    "batch_stats": "test-time batch statistics",
}


@dataclass
class RowRuns:
    """One ablation row: its label, config and the results of its finished runs."""

    label: str
    config: str
    runs: list[RunResult] = field(default_factory=list)
    failed: int = 0
    arms: dict[str, list[RunResult]] = field(default_factory=dict)
    arms_skipped: bool = False  # no BN in the RoI heads: the arms change nothing

    def arm_runs(self, arm: str) -> dict[str, RunResult]:
        """Runs of one arm by fold and seed (``'fold0_seed1'``)."""
        runs = self.runs if arm == TRAINED or self.arms_skipped else self.arms.get(arm, [])
        return {run.name[len(self.label) + 1 :]: run for run in runs}

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
    """Mean bbox and segm mAP per row and evaluation arm, ± 1 sample std (PNG, 2 panels).

    A row without BN in its heads shows its as-trained runs under every arm; an arm
    with no finished run draws no bar.
    """
    panels = {}
    for iou_type in IOU_TYPES:
        bars = {}
        for arm, title in ARM_TITLES.items():
            stats = [mean_std(_values(row.arm_runs(arm), f"{iou_type}_mAP")) for row in rows]
            means = [math.nan if m is None else m for m, _ in stats]
            bars[title] = (means, [s or 0.0 for _, s in stats])
        panels[iou_type] = bars
    plot_grouped_bars([row.label for row in rows], {}, path, panels)


def paired_interval(diffs: list[float]) -> tuple[float, float | None]:
    """Mean paired difference and the half-width of its 95 % t interval (None for n < 2)."""
    from scipy.stats import t

    mean = statistics.mean(diffs)
    if len(diffs) < 2:
        return mean, None
    return mean, t.ppf(0.975, len(diffs) - 1) * statistics.stdev(diffs) / math.sqrt(len(diffs))


def format_paired(a: dict[str, RunResult], b: dict[str, RunResult], key: str) -> str:
    """``'+0.120 [+0.050, +0.190] (n=8)'``: a - b over the runs both have."""
    pairs = [(a[k].metrics.get(key), b[k].metrics.get(key)) for k in sorted(a.keys() & b.keys())]
    diffs = [x - y for x, y in pairs if x is not None and y is not None]
    if not diffs:
        return "—"
    mean, half = paired_interval(diffs)
    interval = "" if half is None else f" [{mean - half:+.3f}, {mean + half:+.3f}]"
    return f"{mean:+.3f}{interval} (n={len(diffs)})"


def render_arms_table(rows: list[RowRuns]) -> str:
    """Markdown: mAP of every evaluation arm per row, and its paired change vs as trained."""
    arms = [arm for arm in ARM_TITLES if arm != TRAINED]
    head = ["row", "IoU", ARM_TITLES[TRAINED]]
    head += [ARM_TITLES[arm] for arm in arms] + [f"{ARM_TITLES[arm]} − trained" for arm in arms]
    out = ["#### BN evaluation arms (mAP)", ""]
    out += ["|" + "|".join(head) + "|", "|" + "---|" * len(head)]
    for row in rows:
        for iou_type in IOU_TYPES:
            key = f"{iou_type}_mAP"
            cells = [row.label, iou_type, format_mean_std(row.values(key))]
            if row.arms_skipped:
                cells += ["— (no BN in the RoI heads)"] * (2 * len(arms))
            else:
                cells += [format_mean_std(_values(row.arm_runs(arm), key)) for arm in arms]
                trained = row.arm_runs(TRAINED)
                cells += [format_paired(row.arm_runs(arm), trained, key) for arm in arms]
            out.append("|" + "|".join(cells) + "|")
    return "\n".join(out) + "\n"


def render_paired_differences(rows: list[RowRuns]) -> str:
    """Markdown: every row minus the first, under each arm, paired by fold and seed."""
    first = rows[0]
    head = ["row − " + first.label, "arm (both rows)", *(f"Δ {t} mAP [95 % CI]" for t in IOU_TYPES)]
    out = ["#### Paired differences", "", "|" + "|".join(head) + "|", "|" + "---|" * len(head)]
    for row in rows[1:]:
        for arm, title in ARM_TITLES.items():
            a, b = row.arm_runs(arm), first.arm_runs(arm)
            cells = [f"{row.label} − {first.label}", title]
            cells += [format_paired(a, b, f"{t}_mAP") for t in IOU_TYPES]
            out.append("|" + "|".join(cells) + "|")
    return "\n".join(out) + "\n"


def _values(runs: dict[str, RunResult], key: str) -> list[float]:
    return [r.metrics[key] for r in runs.values() if r.metrics.get(key) is not None]
