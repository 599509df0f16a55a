"""mmdet_evonorm.benchmark.necks: every neck at a small input."""

from __future__ import annotations

import pytest

from mmdet_evonorm.benchmark import necks
from mmdet_evonorm.benchmark.cli import parse_args


@pytest.fixture
def small_image(monkeypatch):
    monkeypatch.setattr(necks, "IMAGE", (64, 96))
    monkeypatch.setattr(necks, "BATCH", 1)


def test_necks_report_params_flops_and_ratios(small_image):
    report = necks.run(parse_args(necks, ["--rounds", "1", "--warmup", "0"]))
    results = report.figures["necks"]
    assert list(results) == list(necks.NECKS)
    fpn, balance = results["FPN (reference)"], results["FPN + Balance"]
    assert fpn["ratio"] == 1.0 and balance["params"] > fpn["params"]
    # FPN: 1 FLOP per multiply-add of its convs; the 3x3 output convs alone at P3-P5
    # (8x12, 4x6, 2x3 px) and P6 (1x2) are 256 x 256 x 9 per output pixel
    output_convs = 256 * 256 * 9 * (8 * 12 + 4 * 6 + 2 * 3 + 1 * 2)
    assert output_convs < fpn["flops"] < 2 * output_convs
    row = next(r for r in report.table.rows if r[0] == "FPN + Balance")
    assert row[2] == f"{(balance['params'] - fpn['params']) / 1e6:+.3f}"
    assert "1 FLOP per multiply-add" in report.markdown
