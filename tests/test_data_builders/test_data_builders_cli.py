"""The data builders' command lines: bad input is one ``error:`` line, status 2."""

from __future__ import annotations

import pytest

from mmdet_evonorm.data_builders.cli import build_nuclei


@pytest.mark.parametrize("content", [None, b"not a zip"])
def test_cli_bad_wheel_one_line_nonzero(tmp_path, capsys, content):
    bad = tmp_path / "stardist.whl"
    if content is not None:
        bad.write_bytes(content)
    out = tmp_path / "out"
    assert build_nuclei(["--wheel", str(bad), "--out", str(out)], repo=tmp_path) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and str(bad) in lines[0], lines
    assert not out.exists()
