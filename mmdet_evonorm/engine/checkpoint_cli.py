"""The command line of ``tools/convert_checkpoint.py`` (see :mod:`.safe_checkpoint`)."""

from __future__ import annotations

import sys

from mmdet_evonorm.checks import ArgumentParser, exits_on_bad_input

from .safe_checkpoint import convert_checkpoint


@exits_on_bad_input
def main(argv: list[str] | None = None) -> int:
    """Convert ``src`` to ``dst``; returns the exit status (2: bad input, one ``error:`` line)."""
    parser = ArgumentParser(
        description="Make a trusted foreign checkpoint loadable with "
        "``torch.load(weights_only=True)``."
    )
    parser.add_argument("src", help="checkpoint to convert (a file you trust)")
    parser.add_argument("dst", help="output path (must not exist)")
    args = parser.parse_args(argv)
    convert_checkpoint(args.src, args.dst, log=lambda msg: print(msg, file=sys.stderr))
    print(f"wrote {args.dst} (loads with torch.load(weights_only=True))")
    return 0
