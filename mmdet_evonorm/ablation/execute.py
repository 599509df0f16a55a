"""Train, test and collect the runs of a :class:`~.plan.Plan`, skipping finished ones.

Each run trains and tests in a fresh process (``spawn``, one task per process: the
runner's loggers and visualizers are process-wide singletons) through
``tools/train.py``/``tools/test.py``'s code path, :func:`mmdet_evonorm.engine.cli.run_train`
and :func:`~mmdet_evonorm.engine.cli.run_test`, with its output in
``<work-dir>/<run>/ablate.log``. Up to ``jobs`` runs go at once.

A run is finished once ``tools/test.py`` wrote COCO metrics into its work dir; an
interrupted run resumes from its last checkpoint (training is skipped when the final
one exists).

Evaluation arms: a run whose RoI heads hold BN layers in training mode is then
tested twice more from its final checkpoint, with no extra training, into
``<run>/arms/<arm>/``: ``precise_bn`` (``tools/precise_bn.py``: the heads' BN
statistics re-estimated over the training loader, :mod:`mmdet_evonorm.engine.precise_bn`)
and ``batch_stats`` (``model.test_cfg.rcnn.bn_stats=batch``: the heads normalise
with the statistics of the RoIs at hand). A run without such layers gets
``<run>/arms/skipped.txt`` saying so. A run is finished when it and its arms are
tested. A run that fails (bad input, a non-finite loss) is recorded in
``<run>/ablation_failed.txt`` and skipped later; delete that file to retry it.
"""

from __future__ import annotations

import multiprocessing
import os
import statistics
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import replace
from pathlib import Path

from mmdet_evonorm.analysis.ablation_table import RowRuns
from mmdet_evonorm.analysis.results_table import is_tested, read_run

from .plan import Plan, RunSpec

FAILED = "ablation_failed.txt"
LOG = "ablate.log"
ARMS_DIR = "arms"
#: The evaluation arms, each tested into ``<run>/arms/<arm>/``.
ARMS = ("precise_bn", "batch_stats")
ARMS_SKIPPED = "skipped.txt"
BATCH_STATS_OPTION = "model.test_cfg.rcnn.bn_stats=batch"


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
    if not is_tested(Path(run_dir)):
        status = run_test([config, str(final), "--work-dir", run_dir])
        if status:
            return status, "test"
    return run_arms(config, Path(run_dir), final)


def run_arms(config: str, run_dir: Path, final: Path) -> tuple[int, str]:
    """Test ``final`` after Precise BN and with batch statistics, unless already done.

    Returns ``(exit status, where it stopped)``.
    """
    from mmengine.config import Config

    from mmdet_evonorm.checks.builds import build_model_up_front
    from mmdet_evonorm.engine.cli import run_precise_bn, run_test
    from mmdet_evonorm.engine.precise_bn import bn_layers

    arms = run_dir / ARMS_DIR
    arms.mkdir(exist_ok=True)
    if not bn_layers(build_model_up_front(Config.fromfile(config)).train()):
        (arms / ARMS_SKIPPED).write_text("no BN layer in the RoI heads\n")
        return 0, "arms"
    precise, batch = (arms / arm for arm in ARMS)
    checkpoint = precise / f"{final.stem}_precise_bn.pth"
    if not is_tested(precise):
        precise.mkdir(exist_ok=True)
        if not checkpoint.is_file():
            status = run_precise_bn([config, str(final), "--out", str(checkpoint)])
            if status:
                return status, "precise BN"
        status = run_test([config, str(checkpoint), "--work-dir", str(precise)])
        if status:
            return status, "precise BN test"
    if not is_tested(batch):
        argv = [config, str(final), "--work-dir", str(batch), "--cfg-options", BATCH_STATS_OPTION]
        status = run_test(argv)
        if status:
            return status, "batch statistics test"
    return 0, "arms"


def arms_done(run_dir: Path) -> bool:
    """Whether the evaluation arms of a tested run are tested (or skipped)."""
    arms = run_dir / ARMS_DIR
    return (arms / ARMS_SKIPPED).is_file() or all(is_tested(arms / arm) for arm in ARMS)


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
    tested = run_dir.is_dir() and is_tested(run_dir) and arms_done(run_dir)
    return "finished" if tested else None


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


def collect_row(plan: Plan, row) -> RowRuns:
    """The finished runs of one row, with their evaluation arms, for the tables."""
    dirs = [plan.run_dir(r) for r in plan.runs if r.row == row]
    tested = [d for d in dirs if is_tested(d)]
    result = RowRuns(row.label, str(row.config), [read_run(d) for d in tested])
    result.failed = sum((d / FAILED).is_file() for d in dirs)
    skipped = [(d / ARMS_DIR / ARMS_SKIPPED).is_file() for d in tested]
    result.arms_skipped = bool(skipped) and all(skipped)
    for arm in ARMS:
        arm_dirs = [d for d in tested if is_tested(d / ARMS_DIR / arm)]
        result.arms[arm] = [replace(read_run(d / ARMS_DIR / arm), name=d.name) for d in arm_dirs]
    return result
