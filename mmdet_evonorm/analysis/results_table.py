"""Turn mmengine work dirs into the seed log's results tables.

Layout read (mmengine 0.10 / mmdet 3.x, one work dir per run, named after its config)::

    work_dirs/<config stem>/
        <ts>/<ts>.json              tools/test.py: one JSON object, coco/* metrics + time
        <ts>/vis_data/scalars.json  tools/train.py: JSON lines, train entries (iter, time)
                                    and validation entries (coco/* metrics, step)

The final metrics of a run are those of its newest test (or, without one, its last
validation); train time is the sum of ``time x iterations`` over the logged train
entries; eval time is the test's mean iteration time divided by its batch size.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from mmengine.config import Config

from mmdet_evonorm.checks import BadInputError
from mmdet_evonorm.evaluation import COCO_STAT_NAMES
from mmdet_evonorm.rows import BASELINE, ROWS, row_for_config

#: Column titles of the seed log for the 12 COCO numbers, in COCO_STAT_NAMES order.
SEED_COLUMNS = (
    "mAP",
    "mAP@.50IOU",
    "mAP@.75IOU",
    "mAP (small)",
    "mAP (medium)",
    "mAP (large)",
    "AR@1",
    "AR@10",
    "AR@100",
    "AR@100 (small)",
    "AR@100 (medium)",
    "AR@100 (large)",
)


@dataclass
class RunResult:
    """What one work dir tells: its row, 12 numbers per IoU type and its costs."""

    name: str
    row_id: str | None
    metrics: dict[str, float] = field(default_factory=dict)  # e.g. "bbox_AR@10"
    train_hours: float | None = None
    eval_s_per_img: float | None = None

    def ap(self, iou_type: str) -> float | None:
        return self.metrics.get(f"{iou_type}_mAP")


def _json_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _coco(entry: dict) -> dict[str, float]:
    return {k.split("/", 1)[1]: v for k, v in entry.items() if k.startswith("coco/")}


def _test_logs(run: Path) -> list[tuple[dict, Path]]:
    """(entry, path) of every test log with COCO metrics, oldest first."""
    logs = []
    for ts_dir in sorted(p for p in run.iterdir() if p.is_dir()):
        log = ts_dir / f"{ts_dir.name}.json"
        if log.is_file():
            entry = json.loads(log.read_text().strip() or "{}")
            if _coco(entry):
                logs.append((entry, log))
    return logs


def _train_entries(run: Path) -> list[dict]:
    entries = []
    for scalars in sorted(run.glob("*/vis_data/scalars.json")):
        entries += _json_lines(scalars)
    return entries


def _train_hours(entries: list[dict]) -> float | None:
    """Sum of logged mean iteration time x iterations since the previous entry."""
    train = sorted((e for e in entries if "iter" in e and "time" in e), key=lambda e: e["iter"])
    if not train:
        return None
    total, last = 0.0, 0
    for entry in train:
        if entry["iter"] > last:  # a resumed run re-logs nothing twice
            total += entry["time"] * (entry["iter"] - last)
            last = entry["iter"]
    return total / 3600


def _test_batch_size(run: Path) -> int:
    """Batch size of the test dataloader from the config mmengine dumped (else 1)."""
    for dumped in sorted(run.glob("*.py")):
        loader = Config.fromfile(str(dumped)).get("test_dataloader") or {}
        return int(loader.get("batch_size", 1))
    return 1


def is_tested(run: Path) -> bool:
    """Whether ``tools/test.py`` wrote COCO metrics into the work dir ``run``."""
    return run.is_dir() and bool(_test_logs(run))


def read_run(run: Path) -> RunResult:
    """Read one work dir; raises ``ValueError`` naming it if it holds no COCO metrics."""
    row = row_for_config(run.name)
    result = RunResult(name=run.name, row_id=row.id if row else None)
    entries = _train_entries(run)
    result.train_hours = _train_hours(entries)
    tests = _test_logs(run)
    if tests:
        final, _ = tests[-1]
        if "time" in final:
            result.eval_s_per_img = final["time"] / _test_batch_size(run)
    else:
        vals = [e for e in entries if _coco(e)]
        if not vals:
            raise ValueError(f"{run}: no COCO metrics (run tools/test.py on a checkpoint)")
        final = vals[-1]
    result.metrics = _coco(final)
    return result


def collect_runs(root: Path) -> list[RunResult]:
    """Every run under ``root`` that has COCO metrics, in seed-row order, then by name."""
    if not root.is_dir():
        raise BadInputError(f"{root}: not a directory (pass the work_dirs folder)")
    runs = []
    for run in sorted(p for p in root.iterdir() if p.is_dir()):
        try:
            runs.append(read_run(run))
        except ValueError:
            continue
    order = {r.id: i for i, r in enumerate(ROWS)}
    return sorted(runs, key=lambda r: (order.get(r.row_id, len(order)), r.name))


def _fmt(value: float | None, spec: str = ".3f") -> str:
    return "—" if value is None else format(value, spec)


def _delta(value: float | None, base: float | None) -> str:
    return "—" if value is None or base is None else f"{value - base:+.3f}"


def render_tables(runs: list[RunResult]) -> str:
    """Markdown: a bbox and a segm table in the seed log's column layout."""
    base = next((r for r in runs if r.row_id == BASELINE), None)
    seed = {r.id: r for r in ROWS}
    out = []
    for iou_type in ("bbox", "segm"):
        head = ["row", "config", *SEED_COLUMNS, f"ΔmAP vs {BASELINE}", "seed mAP"]
        head += ["train (h)", "eval (s/img)"]
        out += [f"#### {iou_type}", "", "|" + "|".join(head) + "|", "|" + "---|" * len(head)]
        for run in runs:
            row = seed.get(run.row_id)
            seed_ap = getattr(row, f"seed_{iou_type}_ap") if row else None
            cells = [run.row_id or "—", run.name]
            cells += [_fmt(run.metrics.get(f"{iou_type}_{n}")) for n in COCO_STAT_NAMES]
            cells += [_delta(run.ap(iou_type), base.ap(iou_type) if base else None)]
            cells += [_fmt(seed_ap), _fmt(run.train_hours, ".3g"), _fmt(run.eval_s_per_img, ".4f")]
            out.append("|" + "|".join(cells) + "|")
        out.append("")
    return "\n".join(out)


def plot_ap_bars(runs: list[RunResult], path: Path) -> None:
    """Grouped bars of bbox and segm mAP per run, written as a PNG."""
    labels = [r.row_id or r.name for r in runs]
    series = {t: ([r.ap(t) or 0 for r in runs], None) for t in ("bbox", "segm")}
    plot_grouped_bars(labels, series, path)


def plot_grouped_bars(
    labels: list[str],
    series: dict[str, tuple[list[float], list[float] | None]],
    path: Path,
    panels: dict[str, dict[str, tuple[list[float], list[float] | None]]] | None = None,
) -> None:
    """Grouped bars per label (``series``: name -> values, error bars or None) as a PNG.

    With ``panels`` (title -> series) one panel per title, side by side; ``series`` is
    then ignored. A NaN value draws no bar.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = panels or {"": series}
    width = max(6, 0.7 * len(labels) + 2)
    fig, axes = plt.subplots(1, len(panels), figsize=(width * len(panels), 4), squeeze=False)
    xs = range(len(labels))
    for ax, (title, bars) in zip(axes[0], panels.items(), strict=True):
        step = 0.8 / len(bars)
        for index, (name, (values, errors)) in enumerate(bars.items()):
            shifted = [x - 0.4 + step * (index + 0.5) for x in xs]
            ax.bar(shifted, values, step, yerr=errors, capsize=4 if errors else 0, label=name)
        ax.set_xticks(list(xs), labels, rotation=45, ha="right")
        ax.set_ylabel("COCO mAP")
        ax.set_title(title)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
