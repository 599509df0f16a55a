"""evonorm_triton_report (``tools/triton_compile_report.py``): the docs section from compiled
figures, its replacement in a Markdown file, and bad input. The figures here are made up (no
compile); the real compile is checked by test_evonorm_triton_compile.py."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def report():
    pytest.importorskip("triton")
    from mmdet_evonorm.models.layers import evonorm_triton_report

    return evonorm_triton_report


def made_up_rows(report) -> list:
    """fp32 variants with 40 registers, 128-bit loads; the P6 fused backward 147 registers
    and scalar loads; one variant over sm_80's shared memory limit."""
    rows = []
    for variant in report.tc.variants(90, dtypes=("fp32",)):
        heavy = variant.name == "fused_backward" and "P6 x2" in variant.users
        res = report.tc.Resources(147 if heavy else 40, 0, 0, 0, 256, (32,) if heavy else (128,))
        rows.append((variant, res, res))
    variant, res, _ = rows[0]
    rows[0] = (variant, res._replace(shared=200 * 1024), res)
    return rows


def test_section_reports_problems_and_findings(report):
    text = report.section(made_up_rows(report), seconds=12.0)
    assert text.startswith(report.HEADING + "\n")
    assert "**Problems**" in text and "sm_80: 204800 B shared memory > 166912 B" in text
    one_block = next(line for line in text.splitlines() if "1 resident block per SM" in line)
    assert "`fused_backward` ROWS=1 BLOCK_C=8 BLOCK_L=512 (P6 x2, P6 x8)" in one_block
    assert "fp32 147 registers" in one_block
    loads = next(line for line in text.splitlines() if "Loads that do not vectorise" in line)
    assert "`fused_backward` at L = 273" in loads
    assert "L 273 -> 512 (47% idle lanes)" in text
    assert text.count("\n| ") == len(made_up_rows(report)) + 1  # header + one row per variant


def test_replace_section_keeps_the_rest(report):
    new = f"{report.HEADING}\n\nnew\n"
    doc = f"# B\n\n## A\n\na\n\n{report.HEADING}\n\nold\n\n## C\n\nc\n"
    assert report.replace_section(doc, new) == f"# B\n\n## A\n\na\n\n{new}\n## C\n\nc\n"
    assert report.replace_section("# B\n\ntext\n", new) == f"# B\n\ntext\n\n{new}"
    last = report.replace_section(f"# B\n\n{report.HEADING}\n\nold\n", new)
    assert last == f"# B\n\n{new}" and report.replace_section(last, new) == last


def test_missing_out_file_is_one_error_line(report, tmp_path, capsys):
    assert report.main(["--out", str(tmp_path / "absent.md")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: --out") and "absent.md" in err[0]
    assert not (tmp_path / "absent.md").exists()
