"""``tools/ablate.py``'s command line: parse, plan, run, write the tables and chart.

    python tools/ablate.py B1 C1 C2 --preset nuclei --folds 3 --seeds 1 --iters 400
    python tools/ablate.py B1 C4 --preset coco --schedule 0.1 --train-subset 20000

For every row x fold x seed: build the run's config (the row's own, sized by the
preset; :mod:`.plan`), train it with tools/train.py's code path, test it with
tools/test.py's, and read the work dir as tools/summarize.py does (:mod:`.execute`).
Writes ``<work-dir>/ablation.md`` (bbox and segm tables, mean ± std over folds and
seeds) and ``<work-dir>/ablation.png``. Finished runs are skipped, so running the
same command again resumes; a work dir holding runs of another configuration is
refused. Runs whose RoI heads hold BN are also tested after Precise BN and with
test-time batch statistics (evaluation arms; the tables add paired differences with
95 % intervals). Each run takes free cores / ``--jobs`` intra-op threads unless
``--threads`` or ``OMP_NUM_THREADS`` says otherwise.
Exit status: 0 done, 1 some run failed, 2 bad input.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
from pathlib import Path

from mmengine.config import DictAction

from mmdet_evonorm.analysis.ablation_table import (
    plot_ablation_ap,
    render_ablation_tables,
    render_arms_table,
    render_paired_differences,
)
from mmdet_evonorm.benchmark.machine import machine_description
from mmdet_evonorm.engine.threads import choose_threads

from .execute import collect_row, execute_plan
from .plan import AblationError, Preset, make_plan, resolve_rows

DESCRIPTION = "Run a set of ablation rows over folds and seeds; write their tables and chart."


def parse_args(argv: list[str] | None, repo: Path) -> argparse.Namespace:
    """The options; ``repo`` is the checkout whose ``data/`` holds the default fold sets."""
    parser = argparse.ArgumentParser(description=DESCRIPTION)
    parser.add_argument("rows", nargs="+", help="row ids (B1 C4 ...) or config paths")
    parser.add_argument("--preset", choices=("nuclei", "coco"), default="nuclei")
    parser.add_argument("--folds", type=int, default=1, help="nuclei: 1-4 quadrant folds")
    parser.add_argument("--seeds", type=int, default=1, help="seeds 0..N-1 per fold")
    parser.add_argument("--iters", type=int, help="nuclei: iterations per run (default 400)")
    parser.add_argument(
        "--schedule", type=float, help="coco: fraction of the row's schedule (0.1 = 12k iters)"
    )
    parser.add_argument("--train-subset", type=int, help="coco: train on the first N images")
    parser.add_argument("--work-dir", type=Path, help="default work_dirs/ablation_<preset>")
    parser.add_argument(
        "--data-root", type=Path, default=repo / "data" / "nuclei_folds", help="nuclei fold sets"
    )
    parser.add_argument("--jobs", type=int, default=1, help="runs at once (one process each)")
    parser.add_argument(
        "--threads", type=int, help="intra-op threads per run (default: free cores / jobs)"
    )
    parser.add_argument(
        "--cfg-options", nargs="+", action=DictAction, default={}, help="key=value for every run"
    )
    args = parser.parse_args(argv)
    if args.preset == "nuclei":
        if args.schedule is not None or args.train_subset is not None:
            parser.error("--schedule and --train-subset belong to --preset coco; use --iters")
        args.iters = 400 if args.iters is None else args.iters
        if args.iters < 1:
            parser.error("--iters must be >= 1")
    else:
        if args.iters is not None:
            parser.error("--iters belongs to --preset nuclei; use --schedule with coco")
        args.schedule = 1.0 if args.schedule is None else args.schedule
        if args.schedule <= 0 or (args.train_subset is not None and args.train_subset < 1):
            parser.error("--schedule must be > 0 and --train-subset >= 1")
    if args.jobs < 1:
        parser.error("--jobs must be >= 1")
    if args.threads is not None and args.threads < 1:
        parser.error("--threads must be >= 1")
    args.work_dir = (args.work_dir or Path("work_dirs") / f"ablation_{args.preset}").resolve()
    return args


def header(
    args: argparse.Namespace, argv: list[str], wall: float, load: float, failures: list[str]
) -> str:
    """The settings, wall time, machine and load (1-minute average at the start, ``load``,
    and at the end) above the tables."""
    schedule = (
        f"{args.iters} iterations per run"
        if args.preset == "nuclei"
        else f"schedule x{args.schedule}"
        + (f", first {args.train_subset} training images" if args.train_subset else "")
    )
    lines = [
        f"# Ablation: {' '.join(args.rows)} ({args.preset} preset)",
        "",
        f"- command: `python tools/ablate.py {shlex.join(argv)}`",
        f"- {args.folds} fold(s) x {args.seeds} seed(s) per row, {schedule}",
        "- cells: mean ± sample std over the row's runs; Δ: difference of mean mAP",
        f"- wall time of the last invocation: {wall / 60:.1f} min ({args.jobs} job(s))",
        f"- machine: {machine_description()}",
        f"- load: 1-minute load average {load:.1f} at the start, {os.getloadavg()[0]:.1f} at "
        f"the end ({os.cpu_count()} logical CPUs; other work slows the runs, not their results)",
    ]
    lines += [f"- failed: {line}" for line in failures]
    return "\n".join(lines) + "\n\n"


def main(argv: list[str] | None = None, *, repo: Path) -> int:
    """Run ``tools/ablate.py`` with ``argv`` (default: the command line) from checkout ``repo``."""
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv, repo)
    start, load = time.monotonic(), os.getloadavg()[0]
    preset = Preset(
        args.preset,
        args.data_root.resolve(),
        args.iters,
        args.schedule or 1.0,
        args.train_subset,
        dict(args.cfg_options),
    )
    try:
        rows = resolve_rows(args.rows)
        plan = make_plan(args.work_dir, rows, preset, args.folds, args.seeds)
    except AblationError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    say = lambda line: print(f"[ablate] {line}", flush=True)  # noqa: E731
    say(f"{len(plan.runs)} runs into {plan.work_dir}")
    choose_threads(args.jobs, args.threads, log=say)
    failures = execute_plan(plan, args.jobs, say)
    table = [collect_row(plan, row) for row in rows]
    text = header(args, argv, time.monotonic() - start, load, failures)
    text += render_ablation_tables(table) + "\n" + render_arms_table(table)
    if len(table) > 1:
        text += "\n" + render_paired_differences(table)
    print(text, flush=True)
    (plan.work_dir / "ablation.md").write_text(text)
    plot_ablation_ap(table, plan.work_dir / "ablation.png")
    print(f"[ablate] wrote {plan.work_dir / 'ablation.md'} and ablation.png", flush=True)
    return 1 if failures else 0
