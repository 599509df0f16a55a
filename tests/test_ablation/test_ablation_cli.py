"""mmdet_evonorm.ablation.cli: bad input is one ``error:`` line, status 2, nothing written.

The runs themselves: tests/test_tools/test_ablate.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import single_error_line

from mmdet_evonorm.ablation.cli import main

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "args, named",
    [
        (["B1", "Z9"], "unknown row or config 'Z9'"),
        (["B1", "configs/nope.py"], "configs/nope.py"),
        (["B1", "B1"], "row 'B1' is given twice"),
        (["B1", "--folds", "5"], "--folds 5: the nuclei image has 4 quadrants"),
        (["B1", "--preset", "coco", "--folds", "2"], "--folds 2: the coco preset has one"),
        (["B1", "--seeds", "0"], "--seeds 0"),
    ],
)
def test_bad_input_is_one_line(capsys, tmp_path, args, named):
    work = tmp_path / "ablation"
    argv = [*args, "--work-dir", str(work), "--data-root", str(tmp_path / "none")]
    assert main(argv, repo=REPO) == 2
    assert named in single_error_line(capsys.readouterr().err)
    assert not work.exists() and not (tmp_path / "none").exists()


@pytest.mark.parametrize(
    "args", [["B1", "--schedule", "0.1"], ["B1", "--preset", "coco", "--iters", "5"]]
)
def test_options_of_the_other_preset_are_refused(capsys, tmp_path, args):
    with pytest.raises(SystemExit) as info:
        main([*args, "--work-dir", str(tmp_path / "w")], repo=REPO)
    assert info.value.code == 2 and "belong" in capsys.readouterr().err.splitlines()[-1]
    assert not (tmp_path / "w").exists()
