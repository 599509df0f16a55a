"""Every script in ``tools/`` given a file that is not there: one ``error:`` line, status 2.

The Python tools run in-process through their ``main(argv)`` (one import of the
package for all of them); ``dist_train.sh`` / ``dist_test.sh`` run as a user runs
them, where one process checks the inputs before torchrun starts any worker.
Nothing may be written. A new tool needs a case here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mmdet_evonorm.testing import load_script, single_error_line, snapshot

REPO = Path(__file__).resolve().parents[2]
MISSING_CONFIG = "missing.py"
MISSING_CHECKPOINT = "missing.pth"

#: tool -> its arguments (``{tmp}`` is the test's folder) and the path the line must name.
CASES = {
    "ablate.py": (["{tmp}/missing.py", "--work-dir", "{tmp}/w"], MISSING_CONFIG),
    "build_nuclei_dataset.py": (
        ["--wheel", "{tmp}/missing.whl", "--out", "{tmp}/out"],
        "missing.whl",
    ),
    "convert_checkpoint.py": (["{tmp}/missing.pth", "{tmp}/out.pth"], MISSING_CHECKPOINT),
    "make_synthetic_coco.py": (["{tmp}/a_file/coco"], "a_file"),
    "mmcv_wheel.py": (["check", "{tmp}/missing_wheels", "--arch", "9.0"], "missing_wheels"),
    "precise_bn.py": (
        ["{tmp}/missing.py", "{tmp}/c.pth", "--out", "{tmp}/out.pth"],
        MISSING_CONFIG,
    ),
    "quickstart.py": (
        ["--config", "{tmp}/missing.py", "--work-dir", "{tmp}/w", "--data-root", "{tmp}/d"],
        MISSING_CONFIG,
    ),
    "summarize.py": (["{tmp}/missing_work_dirs"], "missing_work_dirs"),
    "test.py": (["{tmp}/missing.py", "{tmp}/c.pth", "--work-dir", "{tmp}/w"], MISSING_CONFIG),
    "train.py": (["{tmp}/missing.py", "--work-dir", "{tmp}/w"], MISSING_CONFIG),
    "triton_compile_report.py": (["--out", "{tmp}/missing/report.md"], "report.md"),
}
#: Tools not yet giving bad input this form, and why.
ARGPARSE_FORM = (
    "argparse's usage line + 'PROG: error:' (mmdet_evonorm.benchmark.cli builds an "
    "argparse.ArgumentParser, not mmdet_evonorm.checks.ArgumentParser)"
)
BENCHMARKS = ("benchmark", "benchmark_heads", "benchmark_necks", "benchmark_norm", "benchmark_rows")
NOT_YET = {
    **dict.fromkeys((f"{name}.py" for name in BENCHMARKS), ARGPARSE_FORM),
    "check_mmcv_ops.py": "takes no file; an environment probe that must not import the package",
}
SHELL_CASES = {
    "dist_train.sh": ["{tmp}/missing.py", "2", "--work-dir", "{tmp}/w"],
    "dist_test.sh": ["{tmp}/missing.py", "{tmp}/c.pth", "2", "--work-dir", "{tmp}/w"],
}


def _argv(template: list[str], tmp_path: Path) -> list[str]:
    return [arg.format(tmp=tmp_path) for arg in template]


@pytest.fixture
def untouched(tmp_path):
    """``tmp_path`` with a file in it, checked unchanged after the test."""
    (tmp_path / "a_file").write_text("a regular file")
    before = snapshot(tmp_path)
    yield tmp_path
    assert snapshot(tmp_path) == before


def test_every_tool_has_a_case():
    tools = {path.name for path in (REPO / "tools").glob("*.py")}
    assert tools == set(CASES) | set(NOT_YET)


@pytest.mark.parametrize("tool", sorted(CASES))
def test_missing_file_is_one_error_line_and_status_2(tool, untouched, capsys, monkeypatch):
    monkeypatch.chdir(untouched)  # quickstart.py changes into the repository
    template, named = CASES[tool]
    main = load_script(REPO / "tools" / tool).main
    try:
        status = main(_argv(template, untouched))
    except SystemExit as exc:  # argparse
        status = exc.code
    line = single_error_line(capsys.readouterr().err)
    assert status == 2 and line.startswith("error: ") and named in line, (status, line)


@pytest.mark.parametrize("script", sorted(SHELL_CASES))
def test_dist_scripts_check_once_before_torchrun(script, untouched, tool):
    run = tool(f"tools/{script}", *_argv(SHELL_CASES[script], untouched))
    assert run.returncode == 2, run.stderr[-3000:]
    assert run.stderr.strip() == f"error: config file '{untouched}/missing.py' not found; " + (
        "pass the path of a .py config"
    )
