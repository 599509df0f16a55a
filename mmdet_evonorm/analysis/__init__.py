"""Reading work dirs back: the seed log's results tables and the ablation table.

The results-table names load on first use, so that importing a submodule pulls in
no mmdet (behind ``mmdet_evonorm.evaluation``) until they are used.
"""

import importlib

__all__ = ["RunResult", "collect_runs", "plot_ap_bars", "render_tables"]


def __getattr__(name: str):
    if name in __all__:
        return getattr(importlib.import_module(".results_table", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
