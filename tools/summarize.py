"""Write the seed log's results tables (bbox, segm) and an AP bar chart from work dirs.

    python tools/summarize.py work_dirs/ [--out RESULTS.md]

Each work dir is one run named after its config (mmdet's default); see
mmdet_evonorm/analysis/results_table.py for what is read. The chart is written next to
``--out`` (``RESULTS.png``). Existing outputs are never overwritten.
"""

from __future__ import annotations

import sys
from pathlib import Path

from mmdet_evonorm.analysis import collect_runs, plot_ap_bars, render_tables
from mmdet_evonorm.checks import ArgumentParser, BadInputError, exits_on_bad_input
from mmdet_evonorm.checks.files import check_new_file


@exits_on_bad_input
def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("work_dirs", type=Path, help="folder holding one work dir per run")
    parser.add_argument("--out", type=Path, help="markdown file to write (default: print)")
    args = parser.parse_args(argv)
    runs = collect_runs(args.work_dirs)
    if not runs:
        raise BadInputError(f"{args.work_dirs}: no run with COCO metrics found")
    tables = render_tables(runs)
    if args.out is None:
        print(tables)
        return 0
    chart = args.out.with_suffix(".png")
    check_new_file(str(args.out), "--out")
    check_new_file(str(chart), "the chart of --out")
    args.out.write_text(tables)
    plot_ap_bars(runs, chart)
    print(f"wrote {args.out} and {chart} ({len(runs)} runs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
