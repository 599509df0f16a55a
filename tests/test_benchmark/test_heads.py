"""mmdet_evonorm.benchmark.heads: the box heads at a small size."""

from __future__ import annotations

import pytest

from mmdet_evonorm.benchmark import heads
from mmdet_evonorm.benchmark.cli import parse_args

SMALL = ["--rois", "4", "--in-channels", "32", "--fc", "64", "--num-classes", "3"]


def test_heads_report_sizes_and_ratios_to_the_baseline():
    args = parse_args(heads, [*SMALL, "--rounds", "1", "--warmup", "0", "--with-res5"])
    report = heads.run(args)
    names = [row[0] for row in report.table.rows]
    assert names == [*heads.HEADS, heads.RES5]
    base = report.table.rows[0]
    assert base[2] == base[4] == "1.00"
    built = heads.build_heads(args)
    params = sum(p.numel() for p in built["seph: EvoNorm-S0"].parameters())
    assert report.figures["seph: EvoNorm-S0"]["params"] == params
    assert "4 RoIs x 32x7x7, FC 64, 3 classes" in report.markdown


def test_sizes_must_be_positive(capsys):
    with pytest.raises(SystemExit):
        parse_args(heads, ["--rois", "0"])
    assert "argument --rois: must be >= 1" in capsys.readouterr().err
