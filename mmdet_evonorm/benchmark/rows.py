"""Cost of every ablation row in one process, with ratios against row B1.

Rows with identical model and optimizer configs share one model; each model's first
untimed pass measures peak memory. ``--checkpoint`` times trained models' inference on
their shared test set instead (``ScoreGatedRoIHead``; ``--ungated``: also
``StandardRoIHead``). Targets (:data:`TARGETS`) are judged on CPU time on a CPU, GPU time
on a GPU. Protocol, results and findings: docs/benchmarks_rows.md.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import NamedTuple

from mmdet_evonorm.rows import BASELINE, ROWS, configs_dir

from . import detector
from .cli import progress
from .machine import LoadMeter, machine_description
from .profile import profile_steps
from .report import Check, Report, Table, checks_table
from .timing import clock_label, judged, median, median_ratio, rotated_rounds

TOOL = "tools/benchmark_rows.py"
DEFAULTS = dict(warmup=0, rounds=5, threads=1)
UNGATED = " ungated"  # name suffix of the StandardRoIHead twin of a --ungated row
STEP_NAMES = {"train": "train step", "infer": "inference"}
CLOCKS = ("cpu", "wall")


class Target(NamedTuple):
    """``row``'s ``step`` time at most ``limit`` × ``reference``'s, or, without a
    reference, its images per second at least ``limit`` (on ``device`` only, if set)."""

    row: str
    step: str
    limit: float
    reference: str | None = None
    device: str | None = None


TARGETS = (
    Target("C2", "train", 1.15, "C1"),
    Target("C2", "infer", 1.10, "C1"),
    Target("C4", "train", 1.15, "C3"),
    Target("C4", "infer", 1.10, "C3"),
    Target("C4", "infer", 1.20, "B1"),
    Target("B1", "train", 40.0, device="cuda"),  # one GPU, AMP, batch 8 of 800x1333
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--rows", nargs="+", metavar="ROW", help="row ids (default: all)")
    detector.add_input_arguments(parser)
    add("--profile", nargs="*", default=[], metavar="ROW", help="profile rows")
    add(
        "--checkpoint",
        nargs="+",
        default=[],
        metavar="ROW=PATH[,CONFIG]",
        help="trained weights per row: time their inference on the test set's images",
    )
    add("--ungated", nargs="*", default=[], metavar="ROW", help="also run ROW on StandardRoIHead")


def check_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    ids = [row.id for row in ROWS]
    args.checkpoints = dict(parse_checkpoint(parser, item) for item in args.checkpoint)
    if args.rows is None:
        args.rows = [r for r in ids if r in args.checkpoints] if args.checkpoints else ids
    for row in {*args.rows, *args.profile, *args.ungated, *args.checkpoints} - set(ids):
        parser.error(f"--rows/--profile/...: unknown row {row!r}; known: {' '.join(ids)}")
    if args.checkpoints and set(args.rows) != set(args.checkpoints):
        parser.error("--checkpoint: give one for every row of --rows (or leave --rows out)")
    if BASELINE not in args.rows:
        parser.error(f"--rows must include the baseline {BASELINE}")
    for option, rows in (
        ("--ungated: every ungated", args.ungated),
        ("--profile: every profiled", args.profile),
    ):
        if not set(rows) <= set(args.rows):
            parser.error(f"{option} row must be in --rows")
    args.inp = detector.input_from_args(parser, args)
    if args.checkpoints:  # the trained configs' own RoI counts and score thresholds
        args.inp = detector.BenchmarkInput(num_images=args.batch, roi_scale=1.0, score_thr=None)


def parse_checkpoint(parser: argparse.ArgumentParser, item: str) -> tuple[str, tuple[str, str]]:
    """``(row, (checkpoint, config))`` of a ``ROW=PATH[,CONFIG]`` item."""
    row, sep, paths = item.partition("=")
    path, _, config = paths.partition(",")
    if not sep or not path:
        parser.error(f"--checkpoint {item}: expected ROW=PATH or ROW=PATH,CONFIG")
    if not os.path.isfile(path):
        parser.error(f"--checkpoint {item}: {path}: no such file")
    found = [config] if config else sorted(map(str, Path(path).parent.glob("*.py")))
    if len(found) != 1:
        parser.error(
            f"--checkpoint {item}: {len(found)} configs (*.py) next to the checkpoint; "
            f"name one as {row}={path},CONFIG"
        )
    if not os.path.isfile(found[0]):
        parser.error(f"--checkpoint {item}: {found[0]}: no such config file")
    return row, (path, found[0])


def build_benches(
    args: argparse.Namespace,
) -> tuple[dict[str, detector.ModelBench], dict[str, str]]:
    """One bench per distinct model; returns the benches and ``{row: bench row}``."""
    benches, owner, seen = {}, {}, []
    for row in (r for r in ROWS if r.id in args.rows):
        cfg = detector.load_config(configs_dir() / row.config)
        key = (cfg.model.to_dict(), cfg.get("optim_wrapper"))
        twin = next((name for name, other in seen if other == key), None)
        if twin is None:
            progress(f"building {row.id} ({row.config})")
            benches[row.id] = detector.ModelBench(cfg, args.inp, args.device, args.amp)
            seen.append((row.id, key))
        owner[row.id] = twin or row.id
    return benches, owner


def build_trained_benches(
    args: argparse.Namespace,
) -> tuple[dict[str, detector.ModelBench], dict[str, str]]:
    """One bench per ``--checkpoint`` row (score-gated) and per ``--ungated`` twin, all
    on the same first ``--batch`` images of the shared test set; ``{name: name}``."""
    benches, batch, first = {}, None, None
    for row in (r.id for r in ROWS if r.id in args.rows):
        checkpoint, config = args.checkpoints[row]
        cfg = detector.load_config(config)
        data = test_set(cfg)
        if first is None:
            progress(f"loading {args.batch} test image(s) of {data} ({config})")
            batch, first = detector.dataset_batch(cfg, args.batch), (row, data)
        elif data != first[1]:
            raise SystemExit(
                f"error: {config}: test set {data} differs from {first[0]}'s {first[1]}"
            )
        variants = {row: "ScoreGatedRoIHead"}
        if row in args.ungated:
            variants[f"{row}{UNGATED}"] = "StandardRoIHead"
        for name, roi_head in variants.items():
            progress(f"building {name} ({roi_head}) from {checkpoint}")
            if cfg.model.roi_head.type in ("StandardRoIHead", "ScoreGatedRoIHead"):
                cfg.model.roi_head.type = roi_head
            benches[name] = detector.ModelBench(
                cfg, args.inp, args.device, args.amp, checkpoint, batch
            )
    return benches, {name: name for name in benches}


def test_set(cfg) -> str:
    dataset = cfg.test_dataloader.dataset
    prefix = dataset.get("data_prefix", {}).get("img", "")
    return f"{dataset.get('data_root', '')}{dataset.get('ann_file', '')} ({prefix})"


def measure(args: argparse.Namespace) -> tuple[dict, dict[str, str], dict[str, dict]]:
    """``{model: figures}`` (with ``times``: ``{step: Series}``), ``{row: model}`` and
    ``{row: {step: profile table}}``."""
    benches, owner = (build_trained_benches if args.checkpoints else build_benches)(args)
    steps = ("infer",) if args.checkpoints else detector.STEPS
    results = {}
    for name, bench in benches.items():
        progress(f"{name}: untimed pass (warm-up; memory or RoI counts)")
        if args.checkpoints:  # trained weights: count the box head's RoIs instead
            with detector.box_head_rows(bench.model) as rows:
                bench.infer_step()
            per_image = {key: count / bench.num_images for key, count in rows.items()}
            results[name] = dict(roi_head=type(bench.model.roi_head).__name__, **per_image)
        else:  # the memory pass is the warm-up
            results[name] = {**bench.cost(args.flops_input), **bench.peak_memory()}
    subjects = {name: bench.steps(steps) for name, bench in benches.items()}
    times = rotated_rounds(subjects, args.device, args.warmup, args.rounds, progress)
    for name, bench in benches.items():
        results[name].update(detections=bench.detections_per_image, times=times[name])
    profiles = {row: profile_steps(benches[owner[row]], steps=steps) for row in args.profile}
    return results, owner, profiles


def _ms(result: dict, step: str, clock: str, per: int = 1) -> float:
    return median(getattr(result["times"][step], clock)) * 1e3 / per


def _ratio(results: dict, owner: dict, row: str, ref: str, step: str, clock: str) -> float:
    times, base = (getattr(results[owner[r]]["times"][step], clock) for r in (row, ref))
    return median_ratio(times, base)


def _time_cells(results: dict, owner: dict, row: str, step: str, per: int) -> list[str]:
    """Per clock: the median ms (divided by ``per``) and the ratio to B1."""
    return [
        cell
        for clock in CLOCKS
        for cell in (
            f"{_ms(results[owner[row]], step, clock, per):.0f}",
            f"{_ratio(results, owner, row, BASELINE, step, clock):.2f}",
        )
    ]


def rows_table(results: dict, owner: dict[str, str], num_images: int) -> Table:
    header = [
        "row", "params (M)", "GFLOPs", "train step CPU (ms)", "× B1", "train step wall (ms)",
        "× B1", "train images/s (wall)", "inference CPU (ms / image)", "× B1",
        "inference wall (ms / image)", "× B1", "peak mem train (MiB)",
        "peak mem inference (MiB)", "config",
    ]  # fmt: skip
    rows = []
    for row in (r for r in ROWS if r.id in owner):
        res = results[owner[row.id]]
        same = f" (model of {owner[row.id]})" if owner[row.id] != row.id else ""
        rows.append(
            [f"{row.id}{same}", f"{res['params'] / 1e6:.2f}", f"{res['flops'] / 1e9:.1f}"]
            + _time_cells(results, owner, row.id, "train", 1)
            + [f"{num_images * 1e3 / _ms(res, 'train', 'wall'):.2f}"]
            + _time_cells(results, owner, row.id, "infer", num_images)
            + [f"{res['mem_train'] / 2**20:.0f}", f"{res['mem_infer'] / 2**20:.0f}"]
            + [f"`{row.config}`"]
        )
    return Table(header, rows, "l" + "r" * 13 + "l")


def trained_table(results: dict, args: argparse.Namespace) -> Table:
    header = [
        "model", "RoI head", "RoIs classified / image", "RoIs regressed / image",
        "detections / image", "inference CPU (ms / image)", "× B1",
        "inference wall (ms / image)", "× B1", "checkpoint",
    ]  # fmt: skip
    owner = {name: name for name in results}
    rows = [
        [name, res["roi_head"], f"{res['cls']:.0f}", f"{res['reg']:.0f}"]
        + [f"{res['detections']:.1f}", *_time_cells(results, owner, name, "infer", args.batch)]
        + [f"`{args.checkpoints[name.split()[0]][0]}`"]
        for name, res in results.items()
    ]
    return Table(header, rows, "ll" + "r" * 7 + "l")


def checks(results: dict, owner: dict[str, str], args: argparse.Namespace) -> list[Check]:
    """The :data:`TARGETS` that apply to the rows and steps measured on this device."""
    found, names = [], ("CPU-time ratio", "wall-time ratio", "FLOPs ratio")
    for row, step, limit, ref, device in TARGETS:
        if {row, ref} - {None, *owner} or device not in (None, args.device):
            continue
        res = results[owner[row]]
        if step not in res["times"]:
            continue
        if ref is None:
            rate = args.inp.num_images * 1e3 / _ms(res, step, "wall")
            name = f"{row} {STEP_NAMES[step]} ≥ {limit:g} images/s"
            details = dict.fromkeys(names, "—")
            found.append(Check(name, rate, limit, f"{rate:.1f} images/s", True, details))
            continue
        cpu, wall = (_ratio(results, owner, row, ref, step, clock) for clock in CLOCKS)
        # trained-weights runs count RoIs instead of FLOPs
        flops = f"{res['flops'] / results[owner[ref]]['flops']:.2f}×" if "flops" in res else "—"
        details = dict(zip(names, (f"{cpu:.2f}×", f"{wall:.2f}×", flops), strict=True))
        value = cpu if judged(args.device) == "cpu" else wall
        name = f"{row} {STEP_NAMES[step]} ≤ {limit:.2f}× {ref}"
        found.append(Check(name, value, limit, f"{value:.2f}×", False, details))
    return found


def describe(args: argparse.Namespace, results: dict) -> list[str]:
    """The bullet lines on input, timing, FLOPs and memory."""
    timing = (
        f"then {args.warmup} untimed and {args.rounds} timed rounds; in each round every model "
        "runs {steps}, models in turn, each round starting one model later. CPU: CPU "
        f"seconds of the process; wall: {clock_label(args.device, 'wall')}. Medians over "
        'rounds; "× B1" is the median of the same-round ratios to B1.'
    )
    if args.checkpoints:
        configs = "; ".join(f"{row}: `{config}`" for row, (_, config) in args.checkpoints.items())
        data = test_set(detector.load_config(next(iter(args.checkpoints.values()))[1]))
        return [
            f"- Models: the trained configs next to the checkpoints ({configs}), their own RoI "
            "counts and test score thresholds; RoI head `ScoreGatedRoIHead` (`StandardRoIHead` "
            "for the ungated twins), same weights.",
            f"- Input: the first {args.batch} image(s) of the test set {data}, through the "
            "config's test pipeline; the same images for every model.",
            "- Time: one untimed inference pass per model (also counts the box head's RoIs), "
            + timing.format(steps="one inference pass (`model.test_step`)"),
        ]
    detections = ", ".join(f"{d:g}" for d in sorted({r["detections"] for r in results.values()}))
    methods = "; ".join(sorted({res["flops_method"] for res in results.values()}))
    return [
        f"- Input: {args.inp.describe()}; random weights (`backbone.init_cfg=None`), the "
        f"config's optimizer with lr 0. Detections per image at inference: {detections}.",
        "- Time: one untimed train step + inference pass per model (the memory pass), "
        + timing.format(
            steps="one train step (`model.train_step`: loss, backward, clip, SGD) and one "
            "inference pass (`model.test_step`: RPN, NMS, heads, mask pasting)"
        ),
        f"- FLOPs: mmdet's `tensor` forward of one {'x'.join(map(str, args.flops_input))} image "
        "at the config's own RoI counts (backbone, neck, RPN, box head on all proposals, mask "
        f"head on the first 100), 1 per multiply-add, by {methods}.",
        "- Peak memory: tensor bytes allocated during one step above those live before it "
        "(activations, gradients, workspace; weights and optimizer state excluded).",
    ]


def run(args: argparse.Namespace) -> Report:
    load = LoadMeter()
    results, owner, profiles = measure(args)
    if args.checkpoints:
        title, main = "Per-row inference cost with trained weights", trained_table(results, args)
    else:
        title, main = "Per-row cost", rows_table(results, owner, args.inp.num_images)
    found = checks(results, owner, args)
    judge = "CPU" if judged(args.device) == "cpu" else "GPU (CUDA events)"
    parts = [
        f"# {title} ({args.device}{' + AMP' if args.amp else ''})",
        f"Command: `{args.command}`",
        f"- Machine: {machine_description(args.device)}.",
        f"- Load: {load.summary()}",
        *describe(args, results),
        main.markdown(),
        f"## Targets (judged on {judge} time)",
        checks_table(found).markdown(),
    ]
    for row, tables in profiles.items():
        for step, table in tables.items():
            parts.append(f"## torch.profiler: {row}, {STEP_NAMES[step]}\n\n{table}")
    figures = {name: {**res, "times": {k: s._asdict() for k, s in res["times"].items()}}
               for name, res in results.items()}  # fmt: skip
    figures = dict(command=args.command, machine=machine_description(args.device), models=figures)
    return Report("\n\n".join(parts), main, figures, found)
