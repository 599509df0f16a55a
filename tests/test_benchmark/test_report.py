"""mmdet_evonorm.benchmark.report: tables, checks, and --out's Markdown/CSV + JSON."""

from __future__ import annotations

import json

import pytest

from mmdet_evonorm.benchmark.report import FINDINGS_MARK, Check, Report, Table, checks_table


def test_table_as_markdown_and_csv():
    table = Table(("a", "b"), [[1, "x, y"]], "lr")
    assert table.markdown() == "| a | b |\n|---|---:|\n| 1 | x, y |"
    assert table.csv() == 'a,b\n1,"x, y"\n'
    with pytest.raises(ValueError, match="one letter per column"):
        Table(("a", "b"), [], "l")


def test_checks_at_most_and_at_least():
    assert Check("t", 1.0, 1.0, "1.00x").met and not Check("t", 1.01, 1.0, "1.01x").met
    assert Check("r", 41.0, 40.0, "41", at_least=True).met
    assert not Check("r", 39.0, 40.0, "39", at_least=True).met
    checks = [Check("t", 2.0, 1.0, "2.00x", details={"other": "1.5x"})]
    assert checks_table(checks).markdown().splitlines() == [
        "| target | measured | other | met |",
        "|---|---:|---:|---|",
        "| t | 2.00x | 1.5x | **no** |",
    ]


def test_report_writes_markdown_keeping_findings_and_json_beside(tmp_path):
    report = Report("new figures", Table(("k",), [[1]], "r"), {"k": 1}, [Check("t", 1, 2, "1")])
    out = tmp_path / "report.md"
    out.write_text(f"old figures\n{FINDINGS_MARK}\nhand-written findings\n")
    report.write(out)
    assert out.read_text() == f"new figures\n\n{FINDINGS_MARK}\nhand-written findings\n"
    data = json.loads((tmp_path / "report.json").read_text())
    assert data["figures"] == {"k": 1}
    assert data["targets"] == [
        dict(target="t", value=1, limit=2, measured="1", at_least=False, details={}, met=True)
    ]
    report.write(tmp_path / "table.csv")
    assert (tmp_path / "table.csv").read_text() == "k\n1\n"
    assert (tmp_path / "table.json").is_file()
