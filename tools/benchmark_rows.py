"""Cost of every ablation row in one process, with ratios against row B1.

All row models (``mmdet_evonorm.rows.ROWS``; rows whose model and optimizer configs are
identical, e.g. B1 and its cosine arm, share one model) are built once. Each gets one
untimed train step and inference pass under torch.profiler (peak memory; this is also
the warm-up), then the models take turns for ``--rounds`` rounds of one train step
and one inference pass each (``tools/benchmark.py`` describes the steps). Times are
wall clock and CPU time of the process; by default the steps run on one intra-op
thread, whose CPU time barely moves with other processes' load. A ratio "× B1" is
the median over rounds of the row's time over B1's time in the same round.
``--profile ROW ...`` appends the torch.profiler top costs of those rows. The
Markdown report goes to stdout and to ``--out``; an existing ``--out`` keeps
everything from its ``<!-- findings -->`` line on.

``--checkpoint ROW=PATH ...`` measures trained models instead (e.g. the CPU variants of
an ablation): each row's model and test set come from the config next to its
checkpoint (the one ``*.py`` in its folder, or ``ROW=PATH,CONFIG``), with the
config's own RoI counts and score threshold, on the first ``--batch`` images of the
test set, which all rows must share. Only inference is timed (a train step would
move BN statistics), through this package's :class:`ScoreGatedRoIHead` (a checkpoint
trained with mmdet's ``StandardRoIHead`` has the same weights); ``--ungated ROW ...``
adds a twin of those rows on ``StandardRoIHead`` to the same run. The report also
counts the RoIs each box head classified and regressed.

Examples::

    # CPU, every row: 2 images of 288x384, 5 rounds, 1 thread (~15 min on 2 busy cores)
    python tools/benchmark_rows.py --out docs/benchmarks_rows.md --profile B1 C3 C4
    # one GPU, full resolution, B1 and C4 (< 5 min)
    python tools/benchmark_rows.py --rows B1 C4 --device cuda --amp --input 800x1333 \\
        --batch 8 --threads 8 --warmup 3 --rounds 10 --out docs/benchmarks_rows_gpu.md
    # trained CPU variants: C4 vs B1 inference on the same test images, C4 also ungated
    python tools/benchmark_rows.py --checkpoint B1=work_dirs/b1/iter_400.pth \\
        C4=work_dirs/c4/iter_400.pth --ungated C4 --batch 1 --rounds 10
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

from mmengine.logging import MMLogger

from mmdet_evonorm.analysis.benchmark import (
    BenchmarkInput,
    LoadMeter,
    ModelBench,
    add_input_args,
    box_head_rows,
    dataset_batch,
    input_from_args,
    load_config,
    machine_description,
    median_ratio,
    model_flops,
    profile_steps,
    summarize,
    time_interleaved,
)
from mmdet_evonorm.rows import BASELINE, ROWS

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
FINDINGS_MARK = "<!-- findings -->"
UNGATED = " ungated"  # name suffix of the StandardRoIHead twin of a --ungated row
#: Issue 8's targets: (row, reference row, step, largest time ratio).
TARGETS = (
    ("C2", "C1", "train", 1.15),
    ("C2", "C1", "infer", 1.10),
    ("C4", "C3", "train", 1.15),
    ("C4", "C3", "infer", 1.10),
    ("C4", "B1", "infer", 1.20),
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ids = [row.id for row in ROWS]
    parser.add_argument("--rows", nargs="+", metavar="ROW", help="row ids (default: all)")
    add_input_args(parser)
    parser.set_defaults(batch=2, warmup=0, threads=1)
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds")
    parser.add_argument("--profile", nargs="*", default=[], metavar="ROW", help="profile rows")
    parser.add_argument(
        "--checkpoint",
        nargs="+",
        default=[],
        metavar="ROW=PATH[,CONFIG]",
        help="trained weights per row: time their inference on the test set's images",
    )
    parser.add_argument(
        "--ungated", nargs="*", default=[], metavar="ROW", help="also run ROW on StandardRoIHead"
    )
    parser.add_argument("--out", help="also write the Markdown report to this file")
    args = parser.parse_args(argv)
    args.checkpoints = parse_checkpoints(parser, args.checkpoint)
    if args.rows is None:
        args.rows = [r for r in ids if r in args.checkpoints] if args.checkpoints else ids
    for row in {*args.rows, *args.profile, *args.ungated, *args.checkpoints} - set(ids):
        parser.error(f"--rows/--profile/...: unknown row {row!r}; known: {' '.join(ids)}")
    if args.checkpoints and set(args.rows) != set(args.checkpoints):
        parser.error("--checkpoint: give one for every row of --rows (or leave --rows out)")
    if not set(args.ungated) <= set(args.rows):
        parser.error("--ungated: every ungated row must be in --rows")
    if BASELINE not in args.rows:
        parser.error(f"--rows must include the baseline {BASELINE}")
    if not set(args.profile) <= set(args.rows):
        parser.error("--profile: every profiled row must be in --rows")
    if args.rounds < 1:
        parser.error("--rounds must be >= 1")
    if args.out and not os.path.isdir(os.path.dirname(os.path.abspath(args.out))):
        parser.error(f"--out {args.out}: the folder does not exist; create it first")
    args.inp = input_from_args(parser, args)
    if args.checkpoints:  # the trained configs' own RoI counts and score thresholds
        args.inp = BenchmarkInput(num_images=args.batch, roi_scale=1.0, score_thr=None)
    args.command = shlex.join(["python", "tools/benchmark_rows.py", *(argv or sys.argv[1:])])
    return args


def parse_checkpoints(parser: argparse.ArgumentParser, items: list[str]) -> dict:
    """``{row: (checkpoint, config)}`` from ``ROW=PATH[,CONFIG]`` items."""
    checkpoints = {}
    for item in items:
        row, sep, paths = item.partition("=")
        path, _, config = paths.partition(",")
        if not sep or not path:
            parser.error(f"--checkpoint {item}: expected ROW=PATH or ROW=PATH,CONFIG")
        if not os.path.isfile(path):
            parser.error(f"--checkpoint {item}: {path}: no such file")
        if not config:
            found = sorted(Path(path).parent.glob("*.py"))
            if len(found) != 1:
                parser.error(
                    f"--checkpoint {item}: {len(found)} configs (*.py) next to the checkpoint; "
                    f"name one as {row}={path},CONFIG"
                )
            config = str(found[0])
        elif not os.path.isfile(config):
            parser.error(f"--checkpoint {item}: {config}: no such config file")
        checkpoints[row] = (path, config)
    return checkpoints


def build_benches(args: argparse.Namespace) -> tuple[dict[str, ModelBench], dict[str, str]]:
    """One bench per distinct model; returns the benches and ``{row: bench row}``."""
    inp = args.inp
    benches, owner, seen = {}, {}, []
    for row in (r for r in ROWS if r.id in args.rows):
        cfg = load_config(CONFIGS / row.config)
        key = (cfg.model.to_dict(), cfg.get("optim_wrapper"))
        twin = next((name for name, other in seen if other == key), None)
        if twin is None:
            progress(f"building {row.id} ({row.config})")
            benches[row.id] = ModelBench(cfg, inp, args.device, args.amp)
            seen.append((row.id, key))
        owner[row.id] = twin or row.id
    return benches, owner


def progress(message: str) -> None:
    print(f"# {message}", file=sys.stderr, flush=True)


def measure(args: argparse.Namespace) -> tuple[dict, dict[str, str], dict[str, dict]]:
    benches, owner = build_benches(args)
    static = {}
    for name, bench in benches.items():
        progress(f"{name}: FLOPs, then peak memory (also the warm-up)")
        flops, method = model_flops(bench.cfg, *args.flops_input, args.device)
        static[name] = dict(
            params=bench.num_params,
            flops=flops,
            flops_method=method,
            mem_train=bench.peak_memory("train"),
            mem_infer=bench.peak_memory("infer"),
        )
    times = time_interleaved(benches, args.warmup, args.rounds, progress)
    for name, bench in benches.items():
        static[name]["detections"] = bench.detections_per_image
    profiles = {row: profile_steps(benches[owner[row]]) for row in args.profile}
    return {name: {**static[name], **times[name]} for name in benches}, owner, profiles


def build_trained_benches(args: argparse.Namespace) -> dict[str, ModelBench]:
    """One bench per ``--checkpoint`` row (score-gated) and per ``--ungated`` twin, all
    on the same first ``--batch`` images of the shared test set."""
    benches, batch, first = {}, None, None
    for row in (r.id for r in ROWS if r.id in args.rows):
        checkpoint, config = args.checkpoints[row]
        cfg = load_config(config)
        data = _test_set(cfg)
        if first is None:
            progress(f"loading {args.batch} test image(s) of {data} ({config})")
            batch, first = dataset_batch(cfg, args.batch), (row, data)
        elif data != first[1]:
            sys.exit(f"error: {config}: test set {data} differs from {first[0]}'s {first[1]}")
        variants = {row: "ScoreGatedRoIHead"}
        if row in args.ungated:
            variants[f"{row}{UNGATED}"] = "StandardRoIHead"
        for name, roi_head in variants.items():
            progress(f"building {name} ({roi_head}) from {checkpoint}")
            if cfg.model.roi_head.type in ("StandardRoIHead", "ScoreGatedRoIHead"):
                cfg.model.roi_head.type = roi_head
            benches[name] = ModelBench(cfg, args.inp, args.device, args.amp, checkpoint, batch)
    return benches


def _test_set(cfg) -> str:
    dataset = cfg.test_dataloader.dataset
    prefix = dataset.get("data_prefix", {}).get("img", "")
    return f"{dataset.get('data_root', '')}{dataset.get('ann_file', '')} ({prefix})"


def measure_trained(args: argparse.Namespace) -> tuple[dict, dict[str, dict]]:
    benches = build_trained_benches(args)
    stats = {}
    for name, bench in benches.items():
        progress(f"{name}: untimed inference pass (warm-up), counting the box head's RoIs")
        with box_head_rows(bench.model) as rows:
            bench.infer_step()
        stats[name] = dict(
            roi_head=type(bench.model.roi_head).__name__,
            detections=bench.detections_per_image,
            **{key: count / bench.num_images for key, count in rows.items()},
        )
    times = time_interleaved(benches, args.warmup, args.rounds, progress, steps=("infer",))
    profiles = {row: profile_steps(benches[row], steps=("infer",)) for row in args.profile}
    return {name: {**stats[name], **times[name]} for name in benches}, profiles


def trained_table(results: dict, args: argparse.Namespace) -> str:
    lines = [
        "| model | RoI head | RoIs classified / image | RoIs regressed / image "
        "| detections / image | inference CPU (ms / image) | × B1 "
        "| inference wall (ms / image) | × B1 | checkpoint |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    base, per = results[BASELINE], args.batch
    for name, res in results.items():
        cells = [res["roi_head"], f"{res['cls']:.0f}", f"{res['reg']:.0f}"]
        cells.append(f"{res['detections']:.1f}")
        for key in ("infer_cpu", "infer"):
            cells.append(f"{summarize(res[key])['median'] * 1e3 / per:.0f}")
            cells.append(f"{median_ratio(res[key], base[key]):.2f}")
        cells.append(f"`{args.checkpoints[name.split()[0]][0]}`")
        lines.append(f"| {name} | {' | '.join(cells)} |")
    return "\n".join(lines)


def report_trained(args, results, profiles, load: LoadMeter) -> str:
    owner = {name: name for name in results}
    configs = "; ".join(f"{row}: `{config}`" for row, (_, config) in args.checkpoints.items())
    parts = [
        f"# Per-row inference cost with trained weights ({args.device})",
        f"Command: `{args.command}`",
        f"- Machine: {machine_description(args.device)}.",
        f"- Load: {load.summary()}.",
        f"- Models: the trained configs next to the checkpoints ({configs}), their own RoI "
        "counts and test score thresholds; RoI head `ScoreGatedRoIHead` (`StandardRoIHead` "
        "for the ungated twins), same weights.",
        f"- Input: the first {args.batch} image(s) of the test set "
        f"{_test_set(load_config(next(iter(args.checkpoints.values()))[1]))}, through the "
        "config's test pipeline; the same images for every model.",
        f"- Time: one untimed inference pass per model (also counts the box head's RoIs), "
        f"then {args.warmup} untimed and {args.rounds} timed rounds of one inference pass "
        "(`model.test_step`) per model, models in turn, each round starting one model later. "
        'Medians over rounds; "× B1" is the median of the same-round ratios to B1.',
        trained_table(results, args),
        f"## Targets (judged on {_judge(args)} time)",
        targets_table(results, owner, _judge(args), steps=("infer",)),
    ]
    for row, tables in profiles.items():
        parts.append(f"## torch.profiler: {row}, inference\n\n{tables['infer']}")
    return "\n\n".join(parts) + "\n"


def _ratio(results: dict, owner: dict[str, str], row: str, ref: str, key: str) -> float:
    return median_ratio(results[owner[row]][key], results[owner[ref]][key])


def rows_table(results: dict, owner: dict[str, str], num_images: int) -> str:
    lines = [
        "| row | params (M) | GFLOPs | train step CPU (ms) | × B1 | train step wall (ms) "
        "| × B1 | train images/s (wall) | inference CPU (ms / image) | × B1 "
        "| inference wall (ms / image) | × B1 | peak mem train (MiB) "
        "| peak mem inference (MiB) | config |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for row in (r for r in ROWS if r.id in owner):
        res = results[owner[row.id]]
        cells = [f"{res['params'] / 1e6:.2f}", f"{res['flops'] / 1e9:.1f}"]
        for key, per in (("train_cpu", 1), ("train", 1), ("infer_cpu", num_images)):
            cells.append(f"{summarize(res[key])['median'] * 1e3 / per:.0f}")
            cells.append(f"{_ratio(results, owner, row.id, BASELINE, key):.2f}")
            if key == "train":
                cells.append(f"{num_images / summarize(res[key])['median']:.2f}")
        cells.append(f"{summarize(res['infer'])['median'] * 1e3 / num_images:.0f}")
        cells.append(f"{_ratio(results, owner, row.id, BASELINE, 'infer'):.2f}")
        cells += [f"{res['mem_train'] / 2**20:.0f}", f"{res['mem_infer'] / 2**20:.0f}"]
        same = f" (model of {owner[row.id]})" if owner[row.id] != row.id else ""
        lines.append(f"| {row.id}{same} | {' | '.join(cells)} | `{row.config}` |")
    return "\n".join(lines)


def targets_table(
    results: dict,
    owner: dict[str, str],
    judge: str = "CPU",
    steps: tuple[str, ...] = ("train", "infer"),
) -> str:
    """The issue's targets, judged on CPU time (``judge='CPU'``) or wall time."""
    lines = [
        f"| target | CPU-time ratio | wall-time ratio | FLOPs ratio | met ({judge} time) |",
        "|---|---:|---:|---:|---|",
    ]
    for row, ref, step, limit in TARGETS:
        if row not in owner or ref not in owner or step not in steps:
            continue
        cpu = _ratio(results, owner, row, ref, f"{step}_cpu")
        wall = _ratio(results, owner, row, ref, step)
        flops = _flops_ratio(results[owner[row]], results[owner[ref]])
        met = (cpu if judge == "CPU" else wall) <= limit
        lines.append(
            f"| {row} {_STEP_NAMES[step]} ≤ {limit:.2f}× {ref} | {cpu:.2f}× | {wall:.2f}× "
            f"| {flops} | {'yes' if met else '**no**'} |"
        )
    return "\n".join(lines)


def _flops_ratio(result: dict, reference: dict) -> str:
    if "flops" not in result:  # trained-weights runs count RoIs instead
        return "—"
    return f"{result['flops'] / reference['flops']:.2f}×"


def report(args, results, owner, profiles, load: LoadMeter) -> str:
    inp = args.inp
    methods = sorted({res["flops_method"] for res in results.values()})
    detections = sorted({res["detections"] for res in results.values()})
    shared = (
        "**Other processes (other agents' builds and tests) were using the CPU during this "
        "run**: wall times are inflated and noisy; the CPU times of the single-threaded "
        "steps and the same-round ratios are the figures to compare."
        if load.machine_was_shared()
        else "The load average stayed at or below the core count."
    )
    parts = [
        f"# Per-row cost ({args.device}{' + AMP' if args.amp else ''})",
        f"Command: `{args.command}`",
        f"- Machine: {machine_description(args.device)}.",
        f"- Load: {load.summary()}. {shared}",
        f"- Input: {inp.describe()}; random weights (`backbone.init_cfg=None`), the config's "
        f"optimizer with lr 0. Detections per image at inference: "
        f"{', '.join(f'{d:g}' for d in detections)}.",
        f"- Time: one untimed train step + inference pass per model (the memory pass), then "
        f"{args.warmup} untimed and {args.rounds} timed rounds; in each round every model "
        "runs one train step (`model.train_step`: loss, backward, clip, SGD) and one "
        "inference pass (`model.test_step`: RPN, NMS, heads, mask pasting), models in turn, "
        "each round starting one model later. CPU: CPU seconds of the process; wall: "
        'wall-clock seconds. Medians over rounds; "× B1" is the median of the same-round '
        "ratios to B1.",
        f"- FLOPs: mmdet's `tensor` forward of one {'x'.join(map(str, args.flops_input))} image "
        "at the config's own RoI counts (backbone, neck, RPN, box head on all proposals, mask "
        "head on the first 100), 1 per multiply-add, by " + "; ".join(methods) + ".",
        "- Peak memory: tensor bytes allocated during one step above those live before it "
        "(activations, gradients, workspace; weights and optimizer state excluded).",
        rows_table(results, owner, inp.num_images),
        f"## Targets (issue 8; judged on {_judge(args)} time)",
        targets_table(results, owner, _judge(args)),
    ]
    for row, tables in profiles.items():
        for step, table in tables.items():
            parts.append(f"## torch.profiler: {row}, {_STEP_NAMES[step]}\n\n{table}")
    return "\n\n".join(parts) + "\n"


_STEP_NAMES = {"train": "train step", "infer": "inference"}


def _judge(args: argparse.Namespace) -> str:
    """CPU time on a CPU (steady under load); wall time on a GPU."""
    return "CPU" if args.device == "cpu" else "wall"


def write(path: str, text: str) -> None:
    """Write ``text`` to ``path``, keeping an existing findings section."""
    old = Path(path).read_text() if os.path.isfile(path) else ""
    if FINDINGS_MARK in old:
        text += "\n" + old[old.index(FINDINGS_MARK) :]
    Path(path).write_text(text)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    MMLogger.get_instance("mmengine", log_level="WARNING")  # quiet init-weights logs
    load = LoadMeter().start()
    if args.checkpoints:
        results, profiles = measure_trained(args)
        text = report_trained(args, results, profiles, load)
    else:
        results, owner, profiles = measure(args)
        text = report(args, results, owner, profiles, load)
    print(text)
    if args.out:
        write(args.out, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
