"""mmdet_evonorm.benchmark.cli: the common options and main()."""

from __future__ import annotations

import json
import types

import pytest
import torch

from mmdet_evonorm.benchmark import cli
from mmdet_evonorm.benchmark.report import Check, Report, Table


def _subject(runs: list) -> types.ModuleType:
    """A subject with no options of its own, returning one table and one target."""
    subject = types.ModuleType("fake", "A fake subject.\n\nMore.")
    subject.TOOL, subject.DEFAULTS = "tools/fake.py", dict(warmup=1, rounds=3)

    def run(args):
        runs.append(args)
        return Report("# fake", Table(("a",), [[1]], "r"), {"a": 1}, [Check("t", 1, 2, "1")])

    subject.run = run
    return subject


def test_main_parses_common_options_and_writes_out(tmp_path, capsys):
    runs, threads = [], str(torch.get_num_threads())  # keeps the thread count as it is
    out = tmp_path / "fake.md"
    assert cli.main(_subject(runs), ["--threads", threads, "--out", str(out)]) == 0
    args = runs[0]
    assert (args.device, args.threads, args.warmup, args.rounds) == ("cpu", int(threads), 1, 3)
    assert args.command == f"python tools/fake.py --threads {threads} --out {out}"
    assert capsys.readouterr().out == "# fake\n"
    assert out.read_text() == "# fake\n"
    assert json.loads((tmp_path / "fake.json").read_text())["targets"][0]["met"] is True


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--rounds", "0"], "argument --rounds: must be >= 1"),
        (["--warmup", "-1"], "argument --warmup: must be >= 0"),
        (["--threads", "0"], "argument --threads: must be >= 1"),
        (["--rounds", "x"], "argument --rounds: invalid integer value: 'x'"),
        (["--out", "/nonexistent/dir/x.md"], "the folder does not exist"),
        (["--out", "x.txt"], "name a .md or .csv file"),
    ],
)
def test_bad_common_options_exit_2_with_one_message(argv, message, capsys):
    runs = []
    with pytest.raises(SystemExit) as exit_info:
        cli.main(_subject(runs), argv)
    assert exit_info.value.code == 2 and not runs
    assert message in capsys.readouterr().err


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message without CUDA")
def test_cuda_without_a_gpu_is_refused(capsys):
    runs = []
    with pytest.raises(SystemExit) as exit_info:
        cli.main(_subject(runs), ["--device", "cuda"])
    assert exit_info.value.code == 2 and not runs
    assert "no CUDA device is available; use --device cpu" in capsys.readouterr().err


def test_progress_goes_to_stderr(capsys):
    cli.progress("building")
    assert capsys.readouterr() == ("", "# building\n")
