"""Every script in ``tools/`` given a file that is not there: one ``error:`` line, status 2.

A Python tool is a few lines calling one function of the package; the cases name that
function, which runs in-process (one import of the package for all of them), and
check that the tool calls it. ``mmcv_wheel.py`` must run without the package, so it
runs as a process; ``dist_train.sh`` / ``dist_test.sh`` run as a user runs them,
where one process checks the inputs before torchrun starts any worker. Nothing may
be written. A new tool needs a case here.
"""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

import pytest
from helpers import single_error_line, snapshot

REPO = Path(__file__).resolve().parents[2]
MISSING_CONFIG = "missing.py"
MISSING_CHECKPOINT = "missing.pth"

#: tool -> the package function it calls (``module:name``), its arguments (``{tmp}`` is
#: the test's folder) and the path the line must name.
CASES = {
    "ablate.py": (
        "mmdet_evonorm.ablation.cli:main",
        ["{tmp}/missing.py", "--work-dir", "{tmp}/w"],
        MISSING_CONFIG,
    ),
    "build_nuclei_dataset.py": (
        "mmdet_evonorm.data_builders.cli:build_nuclei",
        ["--wheel", "{tmp}/missing.whl", "--out", "{tmp}/out"],
        "missing.whl",
    ),
    "convert_checkpoint.py": (
        "mmdet_evonorm.engine.checkpoint_cli:main",
        ["{tmp}/missing.pth", "{tmp}/out.pth"],
        MISSING_CHECKPOINT,
    ),
    "make_synthetic_coco.py": (
        "mmdet_evonorm.data_builders.cli:make_synthetic",
        ["{tmp}/a_file/coco"],
        "a_file",
    ),
    "precise_bn.py": (
        "mmdet_evonorm.engine.cli:run_precise_bn",
        ["{tmp}/missing.py", "{tmp}/c.pth", "--out", "{tmp}/out.pth"],
        MISSING_CONFIG,
    ),
    "quickstart.py": (
        "mmdet_evonorm.quickstart:main",
        ["--config", "{tmp}/missing.py", "--work-dir", "{tmp}/w", "--data-root", "{tmp}/d"],
        MISSING_CONFIG,
    ),
    "summarize.py": (
        "mmdet_evonorm.analysis.cli:summarize",
        ["{tmp}/missing_work_dirs"],
        "missing_work_dirs",
    ),
    "test.py": (
        "mmdet_evonorm.engine.cli:run_test",
        ["{tmp}/missing.py", "{tmp}/c.pth", "--work-dir", "{tmp}/w"],
        MISSING_CONFIG,
    ),
    "train.py": (
        "mmdet_evonorm.engine.cli:run_train",
        ["{tmp}/missing.py", "--work-dir", "{tmp}/w"],
        MISSING_CONFIG,
    ),
    "triton_compile_report.py": (
        "mmdet_evonorm.models.layers.evonorm_triton_report:main",
        ["--out", "{tmp}/missing/report.md"],
        "report.md",
    ),
}
#: Tools that must run without the package, run as a process: arguments, path named.
STANDALONE_CASES = {
    "mmcv_wheel.py": (["check", "{tmp}/missing_wheels", "--arch", "9.0"], "missing_wheels"),
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
    assert tools == set(CASES) | set(STANDALONE_CASES) | set(NOT_YET)


@pytest.mark.parametrize("tool", sorted(CASES))
def test_tool_calls_its_package_function(tool):
    module, name = CASES[tool][0].split(":")
    assert f"from {module} import {name}" in (REPO / "tools" / tool).read_text()


@pytest.mark.parametrize("tool", sorted(CASES))
def test_missing_file_is_one_error_line_and_status_2(tool, untouched, capsys, monkeypatch):
    monkeypatch.chdir(untouched)  # quickstart.py changes into the repository
    entry, template, named = CASES[tool]
    module, name = entry.split(":")
    main = getattr(importlib.import_module(module), name)
    checkout = {"repo": REPO} if "repo" in inspect.signature(main).parameters else {}
    try:
        status = main(_argv(template, untouched), **checkout)
    except SystemExit as exc:  # argparse
        status = exc.code
    line = single_error_line(capsys.readouterr().err)
    assert status == 2 and line.startswith("error: ") and named in line, (status, line)


@pytest.mark.parametrize("script", sorted(STANDALONE_CASES))
def test_standalone_tool_missing_file(script, untouched, tool):
    template, named = STANDALONE_CASES[script]
    run = tool(f"tools/{script}", *_argv(template, untouched))
    line = single_error_line(run.stderr)
    assert run.returncode == 2 and named in line, (run.returncode, line)


@pytest.mark.parametrize("script", sorted(SHELL_CASES))
def test_dist_scripts_check_once_before_torchrun(script, untouched, tool):
    run = tool(f"tools/{script}", *_argv(SHELL_CASES[script], untouched))
    assert run.returncode == 2, run.stderr[-3000:]
    assert run.stderr.strip() == f"error: config file '{untouched}/missing.py' not found; " + (
        "pass the path of a .py config"
    )
