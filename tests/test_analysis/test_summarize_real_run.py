"""tools/summarize.py on a real tiny run: train -> test -> table with the test's numbers."""

import json

import pytest

from mmdet_evonorm.evaluation import COCO_STAT_NAMES


@pytest.mark.slow
def test_summarize_reads_a_real_tiny_run(tiny_config, tool, tmp_path):
    # Named like row B1's config, so the run lands on the B1 line of the table.
    overrides = {f"{part}_evaluator.type": "FullCocoMetric" for part in ("val", "test")}
    config = tiny_config("mask_rcnn_fpn3_evonorm.py", **overrides)
    work = tmp_path / "work_dirs" / "mask_rcnn_fpn3_evonorm"
    assert tool("tools/train.py", config, "--work-dir", work).returncode == 0
    run = tool("tools/test.py", config, work / "iter_3.pth", "--work-dir", work)
    assert run.returncode == 0, run.stderr[-2000:]
    (log,) = [p for p in work.glob("*/*.json") if "coco/bbox_mAP" in p.read_text()]
    metrics = json.loads(log.read_text())

    out = tmp_path / "RESULTS.md"
    done = tool("tools/summarize.py", tmp_path / "work_dirs", "--out", out)
    assert done.returncode == 0, done.stderr
    bbox, segm = out.read_text().split("#### segm")
    for table, iou_type in ((bbox, "bbox"), (segm, "segm")):
        (line,) = [x for x in table.splitlines() if x.startswith("|B1|")]
        cells = line.strip("|").split("|")
        numbers = [float(c) for c in cells[2:14]]
        expected = [metrics[f"coco/{iou_type}_{n}"] for n in COCO_STAT_NAMES]
        assert numbers == pytest.approx(expected)
        assert cells[14] == "+0.000" and float(cells[16]) > 0 and float(cells[17]) > 0
    assert out.with_suffix(".png").stat().st_size > 1000
