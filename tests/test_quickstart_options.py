"""mmdet_evonorm.quickstart: its options survive the train command line; bad input.

The runs themselves: tests/test_tools/test_quickstart.py.
"""

from __future__ import annotations

from pathlib import Path

from mmdet_evonorm.engine.cli import train_parser
from mmdet_evonorm.quickstart import as_argv, main
from mmdet_evonorm.sizing import nuclei_data_options

REPO = Path(__file__).resolve().parents[1]


def test_options_survive_the_command_line():
    options = {
        **nuclei_data_options("/d/nuclei"),
        "param_scheduler.0.milestones": [3, 5],
    }
    args = train_parser().parse_args(["cfg.py", *as_argv(options)])
    assert args.cfg_options == options
    assert options["test_evaluator.ann_file"] == "/d/nuclei/annotations/val.json"


def test_missing_config_is_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(REPO)
    work_dir = tmp_path / "work"
    argv = ["--config", "configs/quickstart/nope.py", "--work-dir", str(work_dir)]
    assert main(argv, repo=REPO) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nope.py" in err[0]
    assert not work_dir.exists()
