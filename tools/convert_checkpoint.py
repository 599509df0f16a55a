"""Make a trusted foreign checkpoint loadable with ``torch.load(weights_only=True)``.

    python tools/convert_checkpoint.py IN.pth OUT.pth

Run it only on a file you trust: if IN does not load weights-only, it is
unpickled with ``weights_only=False``, which runs any code the file holds. OUT
(never overwritten) keeps the weights, optimizer and scheduler states and the
message hub in the form ``tools/test.py`` and ``--resume`` load safely.
"""

import sys

from mmdet_evonorm.checks import ArgumentParser, exits_on_bad_input
from mmdet_evonorm.engine.safe_checkpoint import convert_checkpoint


@exits_on_bad_input
def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("src", help="checkpoint to convert (a file you trust)")
    parser.add_argument("dst", help="output path (must not exist)")
    args = parser.parse_args(argv)
    convert_checkpoint(args.src, args.dst, log=lambda msg: print(msg, file=sys.stderr))
    print(f"wrote {args.dst} (loads with torch.load(weights_only=True))")
    return 0


if __name__ == "__main__":
    sys.exit(main())
