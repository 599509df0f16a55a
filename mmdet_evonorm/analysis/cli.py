"""The command line of ``tools/summarize.py``: results tables and an AP chart from work dirs."""

from __future__ import annotations

from pathlib import Path

from mmdet_evonorm.checks import ArgumentParser, BadInputError, exits_on_bad_input
from mmdet_evonorm.checks.files import check_new_file

from .results_table import collect_runs, plot_ap_bars, render_tables


@exits_on_bad_input
def summarize(argv: list[str] | None = None) -> int:
    """Print the tables, or write them to ``--out`` and the chart next to it; exit status."""
    parser = ArgumentParser(
        description="Write the seed log's results tables (bbox, segm) and an AP bar chart "
        "from work dirs."
    )
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
