"""Train, test and collect the runs of a :class:`~.plan.Plan`, skipping finished ones.

Each run trains and tests in a fresh process (``spawn``, one task per process: the
runner's loggers and visualizers are process-wide singletons) through
``tools/train.py``/``tools/test.py``'s code path, :func:`mmdet_evonorm.engine.cli.run_train`
and :func:`~mmdet_evonorm.engine.cli.run_test`, with its output in
``<work-dir>/<run>/ablate.log``. Up to ``jobs`` runs go at once.

A run is finished once ``tools/test.py`` wrote COCO metrics into its work dir; an
interrupted run resumes from its last checkpoint (training is skipped when the final
one exists). A run that fails (bad input, a non-finite loss) is recorded in
``<run>/ablation_failed.txt`` and skipped later; delete that file to retry it.
"""

from __future__ import annotations

import multiprocessing
import os
import statistics
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path

from mmdet_evonorm.analysis.results_table import is_tested

from .plan import Plan, RunSpec

FAILED = "ablation_failed.txt"
LOG = "ablate.log"


def run_one(config: str, run_dir: str, max_iters: int) -> tuple[int, str]:
    """Train (resuming) unless ``iter_<max_iters>.pth`` exists, then test; in a child process.

    Returns ``(exit status, where it stopped)``; stdout/stderr go to ``run_dir/ablate.log``.
    """
    Path(run_dir).mkdir(parents=True, exist_ok=True)
    log = os.open(Path(run_dir) / LOG, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    os.dup2(log, 1)
    os.dup2(log, 2)
    import mmdet_evonorm  # noqa: F401  (registers the package's modules and hooks)
    from mmdet_evonorm.engine.cli import run_test, run_train

    final = Path(run_dir) / f"iter_{max_iters}.pth"
    if not final.is_file():
        status = run_train([config, "--work-dir", run_dir, "--resume"])
        if status:
            return status, "training"
    return run_test([config, str(final), "--work-dir", run_dir]), "test"


def _error_line(run_dir: Path) -> str:
    lines = (run_dir / LOG).read_text(errors="replace").splitlines()
    errors = [line for line in lines if line.startswith("error:")]
    return (errors or lines or ["(no output)"])[-1]


def _eta(walls: list[float], remaining: int, jobs: int) -> str:
    if not walls:
        return "eta after the first run"
    seconds = statistics.mean(walls) * remaining / jobs
    return f"eta {seconds / 60:.0f} min"


def _state(plan: Plan, run: RunSpec) -> str | None:
    """``'finished'``, ``'failed'`` or None (to run)."""
    run_dir = plan.run_dir(run)
    if (run_dir / FAILED).is_file():
        return "failed"
    return "finished" if run_dir.is_dir() and is_tested(run_dir) else None


def execute_plan(plan: Plan, jobs: int = 1, say: Callable[[str], None] = print) -> list[str]:
    """Run every unfinished run of ``plan``; returns one line per failed run."""
    total = len(plan.runs)
    todo = []
    for run in plan.runs:
        state = _state(plan, run)
        if state is None:
            todo.append(run)
        else:
            say(f"run {run.index}/{total}, {run.describe()}: {state} earlier, skipped")
    walls: list[float] = []
    started: dict = {}
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(jobs, mp_context=context, max_tasks_per_child=1) as pool:
        queue = list(todo)
        while queue or started:
            while queue and len(started) < jobs:
                run = queue.pop(0)
                say(
                    f"run {run.index}/{total}, {run.describe()}, "
                    f"{_eta(walls, len(queue) + len(started) + 1, jobs)}"
                )
                started[_submit(pool, plan, run)] = (run, time.monotonic())
            done, _ = wait(started, return_when=FIRST_COMPLETED)
            for future in done:
                run, start = started.pop(future)
                walls.append(time.monotonic() - start)
                _report(plan, run, future.result(), walls[-1], say)
    return [
        f"{run.name}: {(plan.run_dir(run) / FAILED).read_text().strip()}"
        for run in plan.runs
        if _state(plan, run) == "failed"
    ]


def _submit(pool: ProcessPoolExecutor, plan: Plan, run: RunSpec):
    config = plan.config_path(run)
    config.parent.mkdir(parents=True, exist_ok=True)
    if not config.is_file():
        config.write_text(run.config_text)
    from mmengine.config import Config

    max_iters = Config.fromfile(str(config)).train_cfg.max_iters
    return pool.submit(run_one, str(config), str(plan.run_dir(run)), max_iters)


def _report(plan: Plan, run: RunSpec, result: tuple[int, str], wall: float, say) -> None:
    status, stage = result
    run_dir = plan.run_dir(run)
    if status == 0:
        say(f"run {run.index}/{len(plan.runs)} done in {wall / 60:.1f} min ({run.name})")
        return
    reason = f"exit {status} in {stage}: {_error_line(run_dir)}"
    (run_dir / FAILED).write_text(reason + "\n")
    say(f"run {run.index}/{len(plan.runs)} FAILED ({run.name}) {reason}; log {run_dir / LOG}")
