"""tools/summarize.py on fabricated work dirs laid out as mmengine writes them."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from mmengine.config import Config

from mmdet_evonorm.analysis import collect_runs, render_tables
from mmdet_evonorm.evaluation import metric_keys

ROOT = Path(__file__).resolve().parents[2]


def _metrics(offset: float) -> dict:
    return {f"coco/{k}": round(0.1 + offset + i / 100, 3) for i, k in enumerate(metric_keys())}


def _write_run(root, name, train=(), val=None, test=None, test_batch=1):
    run = root / name
    ts = run / "20261126_101010"
    (ts / "vis_data").mkdir(parents=True)
    lines = [dict(iter=i, time=t, loss=1.0) for i, t in train]
    if val is not None:
        lines.append(dict(val, step=train[-1][0] if train else 1))
    (ts / "vis_data" / "scalars.json").write_text("".join(json.dumps(x) + "\n" for x in lines))
    # the config as mmengine dumps it into the work dir (multi-line pretty text)
    Config(dict(test_dataloader=dict(batch_size=test_batch, num_workers=2))).dump(
        run / f"{name}.py"
    )
    if test is not None:
        tdir = run / "20261127_090000"
        tdir.mkdir()
        (tdir / "20261127_090000.json").write_text(json.dumps(test))
    return run


@pytest.fixture
def work_dirs(tmp_path):
    _write_run(
        tmp_path,
        "mask_rcnn_fpn3_evonorm",
        train=[(50, 2.0), (100, 4.0)],
        val=_metrics(0.0),
        test=dict(_metrics(0.05), time=0.5, data_time=0.1),
        test_batch=2,
    )
    _write_run(
        tmp_path, "mask_rcnn_fpn3_sephv2_evonorm_cosine", train=[(10, 1.0)], val=_metrics(0.1)
    )
    _write_run(tmp_path, "my_experiment", val=_metrics(0.2))
    (tmp_path / "crashed_run").mkdir()  # nothing logged: skipped
    return tmp_path


def test_reads_final_metrics_and_costs(work_dirs):
    runs = collect_runs(work_dirs)
    assert [(r.row_id, r.name) for r in runs] == [
        ("B1", "mask_rcnn_fpn3_evonorm"),
        ("C4", "mask_rcnn_fpn3_sephv2_evonorm_cosine"),
        (None, "my_experiment"),
    ]
    b1, c4, _ = runs
    assert b1.metrics["bbox_mAP"] == pytest.approx(0.15)  # the test run wins over val
    assert b1.metrics["segm_AR_l@100"] == pytest.approx(0.15 + 23 / 100)
    assert b1.train_hours == pytest.approx((50 * 2.0 + 50 * 4.0) / 3600)
    assert b1.eval_s_per_img == pytest.approx(0.25)
    assert c4.metrics["bbox_mAP"] == pytest.approx(0.2) and c4.eval_s_per_img is None


def test_tables_in_seed_layout_with_deltas(work_dirs):
    text = render_tables(collect_runs(work_dirs))
    bbox, segm = text.split("#### segm")
    assert "|row|config|mAP|mAP@.50IOU|mAP@.75IOU|mAP (small)|" in bbox
    assert "AR@100 (large)|ΔmAP vs B1|seed mAP|train (h)|eval (s/img)|" in bbox
    c4_line = next(line for line in bbox.splitlines() if line.startswith("|C4|"))
    assert "|+0.050|0.300|" in c4_line  # 0.200 - 0.150, then the seed's C4 bbox AP
    c4_segm = next(line for line in segm.splitlines() if line.startswith("|C4|"))
    assert "|0.274|" in c4_segm  # the seed's C4 segm AP
    assert len([line for line in bbox.splitlines() if line.startswith("|")]) == 2 + 3


def _summarize(*args):
    return subprocess.run(
        [sys.executable, str(ROOT / "tools/summarize.py"), *map(str, args)],
        capture_output=True,
        text=True,
    )


def test_cli_writes_markdown_and_chart_and_never_overwrites(work_dirs, tmp_path):
    out = tmp_path / "RESULTS.md"
    done = _summarize(work_dirs, "--out", out)
    assert done.returncode == 0, done.stderr
    assert out.read_text().startswith("#### bbox")
    assert out.with_suffix(".png").read_bytes()[:4] == b"\x89PNG"
    before = out.read_text()
    again = _summarize(work_dirs, "--out", out)
    assert again.returncode == 2 and "exists" in again.stderr
    assert out.read_text() == before


def test_cli_bad_folder_is_one_clear_line(tmp_path):
    done = _summarize(tmp_path / "nope")
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "not a directory" in done.stderr
