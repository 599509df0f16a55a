"""The options every benchmark tool shares and the one ``main`` the tools call.

A subject module has ``TOOL`` (its script), ``DEFAULTS`` (of the common options),
``run(args) -> Report`` and optionally ``add_arguments(parser)`` and
``check_arguments(parser, args)`` (bad input: ``parser.error``).
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import torch


def at_least(low: int) -> Callable[[str], int]:
    """An argparse ``type``: an integer of at least ``low``."""

    def integer(text: str) -> int:
        if int(text) < low:
            raise argparse.ArgumentTypeError(f"must be >= {low}")
        return int(text)

    return integer


def progress(message: str) -> None:
    """A progress line on stderr (stdout carries the report)."""
    print(f"# {message}", file=sys.stderr, flush=True)


def parse_args(subject: ModuleType, argv: list[str] | None = None) -> argparse.Namespace:
    """``subject``'s options and the common ones, checked; ``args.command`` repeats them."""
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=subject.__doc__.split("\n\n")[0])
    if hasattr(subject, "add_arguments"):
        subject.add_arguments(parser)
    add, defaults = parser.add_argument, subject.DEFAULTS
    add("--device", choices=("cpu", "cuda"), default="cpu")
    add("--threads", type=at_least(1), default=defaults.get("threads"), help="intra-op threads")
    add("--warmup", type=at_least(0), default=defaults["warmup"], help="untimed rounds")
    add("--rounds", type=at_least(1), default=defaults["rounds"], help="timed rounds")
    add(
        "--out",
        help="also write the report to this .md file (.csv: its main table) and its "
        "figures and targets to the .json beside it",
    )
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA device is available; use --device cpu")
    if args.out and Path(args.out).suffix not in (".md", ".csv"):
        parser.error(f"--out {args.out}: name a .md or .csv file")
    if args.out and not Path(args.out).resolve().parent.is_dir():
        parser.error(f"--out {args.out}: the folder does not exist; create it first")
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
