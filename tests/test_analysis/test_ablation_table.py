"""Ablation tables: mean ± sample std per row, Δ vs the first row, costs, the chart."""

import statistics

import pytest

from mmdet_evonorm.analysis.ablation_table import (
    RowRuns,
    format_mean_std,
    mean_std,
    paired_interval,
    plot_ablation_ap,
    render_ablation_tables,
    render_arms_table,
    render_paired_differences,
)
from mmdet_evonorm.analysis.results_table import RunResult
from mmdet_evonorm.evaluation import metric_keys


def _run(name: str, ap: float, hours: float = 0.1, eval_s: float = 0.5) -> RunResult:
    metrics = {key: ap + i / 1000 for i, key in enumerate(metric_keys())}
    return RunResult(name, None, metrics, train_hours=hours, eval_s_per_img=eval_s)


def _cells(table: str, iou_type: str, label: str) -> list[str]:
    section = table.split(f"#### {iou_type}")[1]
    line = next(line for line in section.splitlines() if line.startswith(f"|{label}|"))
    return line.strip("|").split("|")


def test_mean_and_sample_std():
    assert mean_std([0.5, 0.6, 0.7]) == pytest.approx((0.6, 0.1))
    assert mean_std([0.4]) == (0.4, None)
    assert mean_std([]) == (None, None)
    values = [0.512, 0.547, 0.498, 0.530]
    assert mean_std(values)[1] == pytest.approx(statistics.stdev(values))  # n - 1


def test_format_mean_std():
    assert format_mean_std([0.5, 0.6, 0.7]) == "0.600 ± 0.100"
    assert format_mean_std([0.25]) == "0.250"
    assert format_mean_std([]) == "—"
    assert format_mean_std([1.0, 2.0], ".1f") == "1.5 ± 0.7"


def test_table_cells_delta_and_costs():
    rows = [
        RowRuns("B1", "configs/mask_rcnn_fpn3_evonorm.py", [_run("a", 0.50), _run("b", 0.60)]),
        RowRuns(
            "C1",
            "configs/mask_rcnn_fpn3_seph_bn.py",
            [_run("c", 0.30, hours=0.2), _run("d", 0.40, hours=0.4), _run("e", 0.35)],
            failed=1,
        ),
    ]
    table = render_ablation_tables(rows)
    header = table.split("#### bbox")[1].splitlines()[2].strip("|").split("|")
    b1, c1 = _cells(table, "bbox", "B1"), _cells(table, "bbox", "C1")
    assert len(b1) == len(header) == 3 + 12 + 4
    assert header[3] == "mAP" and header[-4] == "ΔmAP vs B1"
    assert b1[:4] == ["B1", "mask_rcnn_fpn3_evonorm.py", "2", "0.550 ± 0.071"]
    assert b1[4] == "0.551 ± 0.071"  # second number = first + 0.001 in every run
    assert c1[2] == "3 (+1 failed)" and c1[3] == "0.350 ± 0.050"
    assert b1[-4] == "+0.000" and c1[-4] == "-0.200"
    assert b1[-3] == "0.267" and c1[-3] == "0.070"  # the seed log's mAP of the row
    assert c1[-2] == "14.0 ± 9.2"  # minutes per run: 12, 24, 6
    assert c1[-1] == "0.5000 ± 0.0000"
    segm = _cells(table, "segm", "C1")
    assert segm[3] == "0.362 ± 0.050"  # segm_mAP is metric 12 of 24: ap + 0.012


def test_row_without_finished_runs_and_unknown_row():
    rows = [RowRuns("mine", "my.py", [_run("a", 0.5)]), RowRuns("C4", "c4.py", [], failed=3)]
    table = render_ablation_tables(rows)
    mine, c4 = _cells(table, "bbox", "mine"), _cells(table, "bbox", "C4")
    assert mine[3] == "0.500" and mine[-3] == "—"
    assert c4[2] == "0 (+3 failed)" and c4[3] == "—" and c4[-4] == "—"


def test_chart_is_written(tmp_path):
    rows = [RowRuns("B1", "b1.py", [_run("a", 0.5), _run("b", 0.6)]), RowRuns("C4", "c4.py")]
    path = tmp_path / "ablation.png"
    plot_ablation_ap(rows, path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_paired_interval_is_the_t_interval():
    diffs = [0.10, 0.14, 0.08, 0.12]
    mean, half = paired_interval(diffs)
    # t(0.975, 3) = 3.182446; stdev = 0.025820
    assert mean == pytest.approx(0.11)
    assert half == pytest.approx(3.182446 * statistics.stdev(diffs) / 2, rel=1e-6)
    assert paired_interval([0.3]) == (0.3, None)


def _runs(label: str, aps: dict[str, float]) -> list[RunResult]:
    return [_run(f"{label}_{key}", ap) for key, ap in aps.items()]


def test_arms_and_paired_differences_match_runs_by_fold_and_seed():
    keys = ["fold0_seed0", "fold0_seed1", "fold1_seed0"]
    bn = RowRuns(
        "C3-cosine", "bn.py", _runs("C3-cosine", dict(zip(keys, [0.1, 0.2, 0.3], strict=True)))
    )
    bn.arms = {
        "precise_bn": _runs("C3-cosine", dict(zip(keys, [0.15, 0.25, 0.40], strict=True))),
        "batch_stats": _runs("C3-cosine", dict(zip(keys[:2], [0.3, 0.3], strict=True))),
    }
    evo = RowRuns("C2", "evo.py", _runs("C2", dict(zip(keys[::-1], [0.5, 0.4, 0.2], strict=True))))
    evo.arms_skipped = True
    arms = render_arms_table([bn, evo])
    line = next(x for x in arms.splitlines() if x.startswith("|C3-cosine|bbox|"))
    cells = line.strip("|").split("|")
    assert cells[2:5] == ["0.200 ± 0.100", "0.267 ± 0.126", "0.300 ± 0.000"]
    assert cells[5].startswith("+0.067 [") and cells[5].endswith("(n=3)")
    assert cells[6].startswith("+0.150 [") and cells[6].endswith("(n=2)")  # only paired runs
    assert "|C2|bbox|" in arms and "— (no BN in the RoI heads)" in arms
    paired = render_paired_differences([bn, evo]).splitlines()
    trained = next(x for x in paired if "as trained" in x).strip("|").split("|")
    # C2 - C3-cosine per fold/seed: 0.2-0.1, 0.4-0.2, 0.5-0.3 (C2 is unchanged by the arms)
    assert trained[0] == "C2 − C3-cosine" and trained[2].startswith("+0.167 [")
    batch = next(x for x in paired if "batch statistics" in x).strip("|").split("|")
    assert batch[2].startswith("+0.000 [") and batch[2].endswith("(n=2)")  # 0.2-0.3, 0.4-0.3
