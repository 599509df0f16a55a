"""``tools/ablate.py``: rows x folds x seeds, each trained, tested and collected.

:mod:`.plan` turns rows and a preset into run configs (and refuses what cannot run),
:mod:`.execute` trains and tests them with ``tools/train.py``/``tools/test.py``'s code
paths, :mod:`.cli` is the command line; the tables and chart are
:mod:`mmdet_evonorm.analysis.ablation_table`.
"""

from .execute import execute_plan
from .plan import AblationError, Plan, Preset, RunSpec, make_plan, resolve_rows

__all__ = [
    "AblationError",
    "Plan",
    "Preset",
    "RunSpec",
    "execute_plan",
    "make_plan",
    "resolve_rows",
]
