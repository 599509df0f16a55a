"""The options every benchmark tool shares and the one ``main`` the tools call.

A subject is a module with ``TOOL`` (its script), ``DEFAULTS`` (its defaults of the
common options), ``run(args) -> Report`` and, where it has options of its own,
``add_arguments(parser)`` and ``check_arguments(parser, args)`` (bad input:
``parser.error``).
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from types import ModuleType

import torch


def add_common_arguments(parser: argparse.ArgumentParser, defaults: dict) -> None:
    """--device, --threads, --warmup, --rounds and --out, with a subject's defaults."""
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument(
        "--threads", type=int, default=defaults.get("threads"), help="torch intra-op threads"
    )
    parser.add_argument("--warmup", type=int, default=defaults["warmup"], help="untimed rounds")
    parser.add_argument("--rounds", type=int, default=defaults["rounds"], help="timed rounds")
    parser.add_argument(
        "--out",
        help="also write the report to this .md file (.csv: its main table) and its "
        "figures and targets to the .json beside it",
    )


def check_common_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """``parser.error`` on a bad common option."""
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA device is available; use --device cpu")
    at_least(parser, args, 1, "threads", "rounds")
    at_least(parser, args, 0, "warmup")
    if args.out and Path(args.out).suffix not in (".md", ".csv"):
        parser.error(f"--out {args.out}: name a .md or .csv file")
    if args.out and not Path(args.out).resolve().parent.is_dir():
        parser.error(f"--out {args.out}: the folder does not exist; create it first")


def at_least(
    parser: argparse.ArgumentParser, args: argparse.Namespace, low: int, *fields: str
) -> None:
    """``parser.error`` unless every set option of ``fields`` is at least ``low``."""
    for name in fields:
        value = getattr(args, name)
        if value is not None and value < low:
            parser.error(f"--{name.replace('_', '-')} must be >= {low}")


def progress(message: str) -> None:
    """A progress line on stderr (stdout carries the report)."""
    print(f"# {message}", file=sys.stderr, flush=True)


def parse_args(subject: ModuleType, argv: list[str] | None = None) -> argparse.Namespace:
    """``subject``'s options and the common ones, checked; ``args.command`` repeats them."""
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=subject.__doc__.split("\n\n")[0])
    if hasattr(subject, "add_arguments"):
        subject.add_arguments(parser)
    add_common_arguments(parser, subject.DEFAULTS)
    args = parser.parse_args(argv)
    check_common_arguments(parser, args)
    if hasattr(subject, "check_arguments"):
        subject.check_arguments(parser, args)
    args.command = shlex.join(["python", subject.TOOL, *argv])
    return args


def main(subject: ModuleType, argv: list[str] | None = None) -> int:
    """Parse and check the options, run ``subject``, print the report, write ``--out``."""
    from mmengine.logging import MMLogger

    args = parse_args(subject, argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    MMLogger.get_instance("mmengine", log_level="WARNING")  # quiet init-weights logs
    report = subject.run(args)
    print(report.markdown)
    if args.out:
        report.write(args.out)
    return 0
