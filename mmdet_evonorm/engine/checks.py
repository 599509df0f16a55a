"""Up-front checks of a run's inputs, done before the runner creates anything.

Each failed check raises :class:`UsageError` with one line that names the file
or config field and says what to do; the tools print it and exit non-zero, so
an existing work dir is left untouched.
"""

from __future__ import annotations

import os.path as osp
from collections.abc import Iterator

from mmengine.config import Config
from mmengine.registry import MODELS
from mmengine.runner import find_latest_checkpoint

from .safe_checkpoint import CheckpointError, check_weights_only


class UsageError(Exception):
    """Bad input from the command line or the config (message is one line)."""


def _is_remote(path: str) -> bool:
    return "://" in path


def check_config_file(path: str) -> None:
    if not osp.isfile(path):
        raise UsageError(f"config file {path!r} not found; pass the path of a .py config")


def check_model_type(cfg: Config) -> None:
    """The top-level ``model.type`` must resolve in the registry of ``default_scope``."""
    model_type = cfg.get("model", {}).get("type")
    if not isinstance(model_type, str):
        return
    with MODELS.switch_scope_and_registry(cfg.get("default_scope")) as registry:
        if registry.get(model_type) is None:
            raise UsageError(
                f"model.type={model_type!r} is not a registered model (scope "
                f"{registry.scope!r}); check the spelling, or add the module that "
                "defines it to custom_imports in the config"
            )


def check_annotation_files(cfg: Config, loaders: tuple[str, ...]) -> None:
    """Every annotation file that ``loaders`` and their evaluators read must exist.

    Args:
        cfg (Config): Full config.
        loaders (tuple[str]): Dataloader keys, e.g. ``('train_dataloader',)``;
            the matching ``*_evaluator`` is checked too.
    """
    for field, path, hint in _annotation_files(cfg, loaders):
        if not _is_remote(path) and not osp.isfile(path):
            raise UsageError(
                f"annotation file {path!r} ({field}) not found; put the dataset there "
                f"or point the config at it: --cfg-options {hint}"
            )


def _annotation_files(cfg: Config, loaders: tuple[str, ...]) -> Iterator[tuple[str, str, str]]:
    """Yield ``(field, resolved path, override hint)`` per annotation file."""
    for loader in loaders:
        if cfg.get(loader):
            yield from _dataset_annotation_files(cfg[loader].dataset, f"{loader}.dataset")
        yield from _evaluator_annotation_files(cfg, loader.replace("_dataloader", "_evaluator"))


def _dataset_annotation_files(dataset: dict, field: str) -> Iterator[tuple[str, str, str]]:
    for leaf_field, leaf in _leaf_datasets(dataset, field):
        ann_file = leaf.get("ann_file")
        if ann_file:
            root = leaf.get("data_root") or ""
            path = ann_file if osp.isabs(ann_file) else osp.join(root, ann_file)
            where = f"{leaf_field}: data_root={root!r}, ann_file={ann_file!r}"
            yield where, path, f"{leaf_field}.data_root=/path/to/dataset/"


def _evaluator_annotation_files(cfg: Config, key: str) -> Iterator[tuple[str, str, str]]:
    evaluators = cfg.get(key) or []
    if isinstance(evaluators, dict):
        named = [(key, evaluators)]
    else:
        named = [(f"{key}[{index}]", evaluator) for index, evaluator in enumerate(evaluators)]
    for field, evaluator in named:
        if evaluator.get("ann_file"):
            yield f"{field}.ann_file", evaluator.ann_file, f"{field}.ann_file=/path/to/ann.json"


def _leaf_datasets(dataset: dict, field: str) -> Iterator[tuple[str, dict]]:
    """Unwrap dataset wrappers (``dataset=`` / ``datasets=[...]``) down to the real ones."""
    if "dataset" in dataset:
        yield from _leaf_datasets(dataset["dataset"], f"{field}.dataset")
    elif "datasets" in dataset:
        for index, child in enumerate(dataset["datasets"]):
            yield from _leaf_datasets(child, f"{field}.datasets[{index}]")
    else:
        yield field, dataset


def check_checkpoint(path: str, what: str) -> None:
    """A local checkpoint must exist and load weights-only (nothing in it runs).

    Args:
        path (str): Checkpoint path; URLs and ``scheme://`` paths are left to mmengine.
        what (str): How the user gave it, for the message (e.g. ``'--resume'``).
    """
    if _is_remote(path):
        return
    if not osp.isfile(path):
        raise UsageError(f"checkpoint {path!r} ({what}) not found")
    try:
        check_weights_only(path)
    except CheckpointError as exc:
        raise UsageError(f"{what}: {exc}") from None


def check_resume_and_load(cfg: Config) -> None:
    """Check the checkpoint a training run will resume or start from."""
    if cfg.get("resume") and not cfg.get("load_from"):
        latest = find_latest_checkpoint(cfg.work_dir)
        if latest:
            check_checkpoint(latest, f"--resume auto, from {cfg.work_dir}/last_checkpoint")
    elif cfg.get("load_from"):
        check_checkpoint(cfg.load_from, "--resume" if cfg.get("resume") else "load_from")
