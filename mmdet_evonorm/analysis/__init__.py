"""Reading work dirs back: the seed log's results tables."""

from .results_table import RunResult, collect_runs, plot_ap_bars, render_tables

__all__ = ["RunResult", "collect_runs", "plot_ap_bars", "render_tables"]
