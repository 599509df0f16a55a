"""``make quickstart`` (``tools/quickstart.py``): train and evaluate a CPU-sized Mask R-CNN.

    python tools/quickstart.py [--work-dir work_dirs/quickstart] [--max-iters N] [--threads N]

1. builds ``data/nuclei`` (real DSB2018 nuclei from the stardist wheel; cached),
2. trains ``configs/quickstart/...`` with ``tools/train.py``'s code path
   (safe checkpoints, up-front input checks),
3. tests the last checkpoint with ``tools/test.py``'s code path, prints the 12 COCO
   bbox and 12 segm numbers, and copies a picture of the predictions on the
   validation image (ground truth left, predictions right) to
   ``<work-dir>/val_predictions.png``.

``--max-iters 0`` skips training and evaluates the randomly initialised model (the
untrained baseline of docs/quickstart.md). The intra-op thread count is the number of
cores free at the start (one line says so; ``--threads`` or ``OMP_NUM_THREADS``
overrides it, :mod:`mmdet_evonorm.engine.threads`). Paths are relative to the repository
root, which ``tools/quickstart.py`` passes as ``repo``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from pathlib import Path

import torch
from mmdet.registry import MODELS
from mmdet.utils import register_all_modules
from mmengine.config import Config
from mmengine.runner import find_latest_checkpoint

from mmdet_evonorm.analysis.results_table import SEED_COLUMNS
from mmdet_evonorm.checks import ArgumentParser, exits_on_bad_input
from mmdet_evonorm.checks.files import check_config_file
from mmdet_evonorm.data_builders.nuclei import ensure_nuclei_dataset
from mmdet_evonorm.engine.cli import run_test, run_train
from mmdet_evonorm.engine.threads import choose_threads
from mmdet_evonorm.evaluation import COCO_STAT_NAMES
from mmdet_evonorm.sizing import nuclei_data_options, schedule_options

DESCRIPTION = (
    "``make quickstart``: train and evaluate a CPU-sized Mask R-CNN on the embedded nuclei set."
)
CONFIG = "configs/quickstart/mask_rcnn_r18_fpn3_sephv2_evonorm_nuclei_cpu.py"
SHOW_DIR = "predictions"
PICTURE = "val_predictions.png"


def parse_args(argv: list[str] | None, repo: Path) -> argparse.Namespace:
    """The options; the default config is ``repo``'s."""
    parser = ArgumentParser(description=DESCRIPTION)
    parser.add_argument("--config", default=str(repo / CONFIG), help="quickstart config")
    parser.add_argument("--work-dir", default="work_dirs/quickstart", help="output dir")
    parser.add_argument("--data-root", default="data/nuclei", help="nuclei dataset dir")
    parser.add_argument(
        "--max-iters",
        type=int,
        help="train this many iterations instead of the config's (schedule scaled to "
        "match); 0 evaluates the untrained model",
    )
    parser.add_argument(
        "--threads", type=int, help="intra-op threads (default: the cores free at the start)"
    )
    args = parser.parse_args(argv)
    if args.max_iters is not None and args.max_iters < 0:
        parser.error("--max-iters must be >= 0")
    if args.threads is not None and args.threads < 1:
        parser.error("--threads must be >= 1")
    return args


def as_argv(options: dict) -> list[str]:
    """``{key: value}`` as ``--cfg-options key=value ...`` (lists as ``[a,b]``)."""

    def text(value) -> str:
        return f"[{','.join(map(str, value))}]" if isinstance(value, list) else str(value)

    return ["--cfg-options", *(f"{key}={text(value)}" for key, value in options.items())]


def save_untrained(config: str, path: Path) -> str:
    """Save the config's randomly initialised model as a (weights-only) checkpoint."""
    register_all_modules()
    cfg = Config.fromfile(config)
    torch.manual_seed(cfg.randomness.seed)
    model = MODELS.build(cfg.model)
    model.init_weights()
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": model.state_dict(), "meta": {}}, path)
    return str(path)


def subdirs(path: Path) -> set[Path]:
    """The directories directly inside ``path`` (none if it does not exist)."""
    return {p for p in path.iterdir() if p.is_dir()} if path.is_dir() else set()


def format_table(metrics: dict) -> str:
    """The 12 bbox and 12 segm numbers, one seed-log row each."""
    lines = [f"{'metric':<18}{'bbox':>8}{'segm':>8}"]
    for label, stat in zip(SEED_COLUMNS, COCO_STAT_NAMES, strict=True):
        values = (metrics[f"coco/{iou}_{stat}"] for iou in ("bbox", "segm"))
        lines.append(f"{label:<18}" + "".join(f"{v:>8.3f}" for v in values))
    return "\n".join(lines)


@exits_on_bad_input
def main(argv: list[str] | None = None, *, repo: Path) -> int:
    """Run ``tools/quickstart.py`` with ``argv`` (default: the command line) in ``repo``."""
    args = parse_args(argv, repo)
    work_dir = Path(args.work_dir).resolve()
    args.config = str(Path(args.config).resolve())
    data_root = str(Path(args.data_root).resolve())
    os.chdir(repo)
    start = time.monotonic()
    check_config_file(args.config)
    data, action = ensure_nuclei_dataset(data_root)
    print(f"[quickstart] 1/3 nuclei dataset {action}: {data}", flush=True)
    choose_threads(1, args.threads, log=lambda line: print(f"[quickstart] {line}", flush=True))
    options = nuclei_data_options(data_root)
    if args.max_iters:
        options.update(schedule_options(Config.fromfile(args.config), args.max_iters))
    if args.max_iters == 0:
        print("[quickstart] 2/3 --max-iters 0: evaluating the untrained model", flush=True)
        checkpoint = save_untrained(args.config, work_dir / "untrained.pth")
    else:
        print("[quickstart] 2/3 training (progress every 10 iterations)", flush=True)
        status = run_train([args.config, "--work-dir", str(work_dir), *as_argv(options)])
        if status:
            return status
        checkpoint = find_latest_checkpoint(str(work_dir))
    print("[quickstart] 3/3 evaluating on the validation image", flush=True)
    before = subdirs(work_dir)
    test_argv = [args.config, checkpoint, "--work-dir", str(work_dir), "--show-dir", SHOW_DIR]
    status = run_test([*test_argv, *as_argv(options)])
    if status:
        return status
    (log_dir,) = subdirs(work_dir) - before  # <work_dir>/<timestamp>/ of the test run
    metrics = json.loads((log_dir / f"{log_dir.name}.json").read_text())
    picture = work_dir / PICTURE
    shutil.copyfile(sorted((log_dir / SHOW_DIR).glob("*.png"))[0], picture)
    print("\nCOCO metrics on the validation image (all nuclei are COCO 'small', so")
    print("medium/large read -1)\n" + format_table(metrics))
    print(f"\npredictions (ground truth left, model right): {picture}")
    print(f"checkpoint: {checkpoint}")
    print(f"total time: {time.monotonic() - start:.0f} s")
    return 0
