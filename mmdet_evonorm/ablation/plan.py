"""Which runs an ablation makes, and the exact config of each.

A run is one row x fold x seed, named ``<row>_fold<k>_seed<s>``; its config is the
row's own config file (any style, loaded by mmengine) with the preset applied:

* ``nuclei`` (CPU): :func:`~mmdet_evonorm.sizing.apply_nuclei_cpu_sizing` on the
  fold's nuclei set (``data_builders/nuclei.py``: fold ``k`` validates on quadrant ``k``),
  then the row's own LR schedule scaled to ``--iters``;
* ``coco`` (GPU): the full-size row on its COCO data, its schedule scaled by
  ``--schedule`` (0.1 of 120k = 12k iterations, every begin/end/milestone and the
  checkpoint interval alike) and optionally only the first ``--train-subset`` images.

Then ``randomness.seed = s`` and any ``--cfg-options``. The composed config is
written to ``<work-dir>/configs/<run>.py``; a work dir whose file for a run differs
from what would be written now holds another configuration and is refused.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path

from mmengine.config import Config

from mmdet_evonorm.checks import BadInputError
from mmdet_evonorm.rows import ROWS, configs_dir, row_for_config
from mmdet_evonorm.sizing import (
    apply_nuclei_cpu_sizing,
    scaled_max_iters,
    schedule_options,
    train_subset_options,
)

PRESETS = ("nuclei", "coco")


class AblationError(BadInputError):
    """Bad input: one line naming the row, option or file, and what to do."""


@dataclass(frozen=True)
class RowChoice:
    """One row of the ablation: its label in the tables and its config file."""

    label: str
    config: Path


def resolve_rows(tokens: list[str]) -> list[RowChoice]:
    """Row ids (``B1``) or config paths, in the order given; duplicates refused."""
    by_id = {row.id: row for row in ROWS}
    rows = []
    for token in tokens:
        if token in by_id:
            rows.append(RowChoice(token, configs_dir() / by_id[token].config))
            continue
        path = Path(token)
        if path.suffix != ".py" or not path.is_file():
            raise AblationError(
                f"unknown row or config {token!r}: give a row id ({', '.join(by_id)}) "
                "or the path of a .py config file"
            )
        row = row_for_config(path.stem)
        rows.append(RowChoice(row.id if row else path.stem, path.resolve()))
    labels = [row.label for row in rows]
    repeated = sorted({label for label in labels if labels.count(label) > 1})
    if repeated:
        raise AblationError(f"row {repeated[0]!r} is given twice; list every row once")
    return rows


@dataclass(frozen=True)
class Preset:
    """The dataset preset and its schedule settings."""

    name: str
    data_root: Path | None = None  # nuclei: the folder of the fold sets
    iters: int | None = None  # nuclei: iterations per run
    schedule: float = 1.0  # coco: fraction of the row's iterations
    train_subset: int | None = None  # coco: first N training images
    cfg_options: dict = field(default_factory=dict)


@dataclass(frozen=True)
class RunSpec:
    """One run: ``index`` (1-based) in the plan, row, fold, seed and its composed config."""

    index: int
    row: RowChoice
    fold: int
    seed: int
    config_text: str

    @property
    def name(self) -> str:
        return f"{self.row.label}_fold{self.fold}_seed{self.seed}"

    def describe(self) -> str:
        return f"row {self.row.label} fold {self.fold} seed {self.seed}"


@dataclass
class Plan:
    """Every run of an ablation, in execution order: all rows on fold 0 seed 0, then on
    the next seed, then the next fold, so an ablation stopped early has compared every
    row on the same folds."""

    work_dir: Path
    rows: list[RowChoice]
    runs: list[RunSpec]

    def config_path(self, run: RunSpec) -> Path:
        return self.work_dir / "configs" / f"{run.name}.py"

    def run_dir(self, run: RunSpec) -> Path:
        return self.work_dir / run.name


def compose_config(row: RowChoice, fold_root: Path | None, seed: int, preset: Preset) -> Config:
    """The row's config with the preset, the seed and ``--cfg-options`` applied."""
    cfg = Config.fromfile(str(row.config))
    if preset.name == "nuclei":
        apply_nuclei_cpu_sizing(cfg, str(fold_root))
        cfg.merge_from_dict(schedule_options(cfg, preset.iters))
    else:
        interval = cfg.default_hooks.checkpoint.get("interval", 1)
        iters = scaled_max_iters(cfg, preset.schedule)
        cfg.merge_from_dict(schedule_options(cfg, iters))
        # checkpoints as often as the row's, relative to its length (for --resume)
        cfg.default_hooks.checkpoint.interval = min(
            iters, max(round(interval * preset.schedule), 1)
        )
        if preset.train_subset:
            cfg.merge_from_dict(train_subset_options(cfg, preset.train_subset))
    cfg.randomness = dict(cfg.get("randomness") or {}, seed=seed)
    cfg.merge_from_dict(preset.cfg_options)
    return cfg


def _fold_roots(preset: Preset, folds: int) -> list[Path | None]:
    if preset.name == "coco":
        if folds != 1:
            raise AblationError(
                f"--folds {folds}: the coco preset has one train/val split; use --folds 1"
            )
        return [None]
    from mmdet_evonorm.data_builders.nuclei import NucleiDatasetError, ensure_nuclei_folds

    try:
        return ensure_nuclei_folds(preset.data_root, folds)
    except NucleiDatasetError as err:
        raise AblationError(str(err)) from err


def make_plan(
    work_dir: Path, rows: list[RowChoice], preset: Preset, folds: int, seeds: int
) -> Plan:
    """Compose every run's config and check ``work_dir`` against them (nothing written)."""
    if seeds < 1:
        raise AblationError(f"--seeds {seeds}: give 1 or more seeds")
    fold_roots = _fold_roots(preset, folds)
    runs = []
    for fold, fold_root in enumerate(fold_roots):
        for seed in range(seeds):
            for row in rows:
                text = compose_config(row, fold_root, seed, preset).pretty_text
                runs.append(RunSpec(len(runs) + 1, row, fold, seed, text))
    plan = Plan(work_dir, rows, runs)
    for run in runs:
        _check_same_configuration(plan, run)
    return plan


def _check_same_configuration(plan: Plan, run: RunSpec) -> None:
    path = plan.config_path(run)
    if not path.is_file() or path.read_text() == run.config_text:
        return
    diff = difflib.unified_diff(path.read_text().splitlines(), run.config_text.splitlines(), n=0)
    change = next((d for d in diff if d[:1] in "+-" and d[:3] not in ("+++", "---")), "")
    raise AblationError(
        f"{plan.work_dir} holds run {run.name} of another configuration ({path}: "
        f"{change.strip()!r}); choose another --work-dir or repeat that run's settings"
    )
