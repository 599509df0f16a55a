"""Up-front checks of a run's inputs, done before the runner creates anything.

Each failed check raises :class:`UsageError` with one line that names the file
or config field and says what to do; the tools print it and exit non-zero, so
an existing work dir is left untouched.
"""

from __future__ import annotations

import os.path as osp
from collections.abc import Iterator
from typing import NamedTuple

from mmengine.config import Config
from mmengine.registry import MODELS
from mmengine.runner import find_latest_checkpoint

from ..datasets.coco_checks import AnnotationError, check_coco_instances
from .safe_checkpoint import CheckpointError, check_weights_only
from .url_checkpoints import check_url_checkpoint


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


#: Top-level config sections whose ``type`` entries are built by the runner (the
#: model is built up front instead, see :mod:`.model_checks`), with the registry
#: their entries belong to (None: a container such as a dataloader).
_SECTION_REGISTRIES = {
    "train_dataloader": None,
    "val_dataloader": None,
    "test_dataloader": None,
    "train_cfg": "LOOPS",
    "val_cfg": "LOOPS",
    "test_cfg": "LOOPS",
    "optim_wrapper": "OPTIM_WRAPPERS",
    "param_scheduler": "PARAM_SCHEDULERS",
    "default_hooks": "HOOKS",
    "custom_hooks": "HOOKS",
    "val_evaluator": "METRICS",
    "test_evaluator": "METRICS",
    "visualizer": "VISUALIZERS",
    "log_processor": "LOG_PROCESSORS",
}
#: Keys below a section whose entries belong to another registry.
_NESTED_REGISTRIES = {
    "dataset": "DATASETS",
    "datasets": "DATASETS",
    "pipeline": "TRANSFORMS",
    "transforms": "TRANSFORMS",
    "sampler": "DATA_SAMPLERS",
    "batch_sampler": "DATA_SAMPLERS",
    "optimizer": "OPTIMIZERS",
    "vis_backends": "VISBACKENDS",
}


def check_registered_types(cfg: Config) -> None:
    """Every ``type`` string of the runner's sections (not the model) must be registered.

    E.g. ``train_dataloader.dataset.pipeline[1].type='LoadAnnotationz'`` fails here
    instead of when the runner builds the dataloader, after it wrote its work dir.
    """
    for section, registry_name in _SECTION_REGISTRIES.items():
        if cfg.get(section) is not None:
            _check_types(cfg[section], section, registry_name, cfg.get("default_scope"))


def _check_types(node, field: str, registry_name: str | None, scope: str | None) -> None:
    if isinstance(node, list | tuple):
        for index, child in enumerate(node):
            _check_types(child, f"{field}[{index}]", registry_name, scope)
        return
    if not isinstance(node, dict):
        return
    if registry_name and isinstance(node.get("type"), str):
        _check_type(node["type"], f"{field}.type", registry_name, scope)
    for key, child in node.items():
        child_registry = _NESTED_REGISTRIES.get(key, registry_name)
        _check_types(child, f"{field}.{key}", child_registry, scope)


def _check_type(name: str, field: str, registry_name: str, scope: str | None) -> None:
    from mmdet import registry as mmdet_registries

    registry = getattr(mmdet_registries, registry_name)
    with registry.switch_scope_and_registry(scope) as scoped:
        if scoped.get(name) is None:
            raise UsageError(
                f"{field}={name!r} is not in the {scoped.scope}::{scoped.name} registry; check "
                "the spelling, or add the module that defines it to custom_imports in the config"
            )


def check_annotation_files(cfg: Config, loaders: tuple[str, ...]) -> list[str]:
    """Every annotation file that ``loaders`` and their evaluators read must exist and be sound.

    COCO-style datasets get one pass over their JSON
    (:func:`~mmdet_evonorm.datasets.coco_checks.check_coco_instances`: structure,
    class names, references, degenerate geometry, image files); evaluator files
    get the structure and reference checks.

    Args:
        cfg (Config): Full config.
        loaders (tuple[str]): Dataloader keys, e.g. ``('train_dataloader',)``;
            the matching ``*_evaluator`` is checked too.

    Returns:
        list[str]: Warning lines (tolerated degenerate annotations).
    """
    warnings = []
    for source in _annotation_files(cfg, loaders):
        if _is_remote(source.path):
            continue
        if not osp.isfile(source.path):
            raise UsageError(
                f"annotation file {source.path!r} ({source.field}{source.detail}) not found; put "
                f"the dataset there or point the config at it: --cfg-options {source.hint}"
            )
        if source.check_args is None:  # not a COCO-style file
            continue
        try:
            warnings += check_coco_instances(source.path, **source.check_args)
        except AnnotationError as exc:
            raise UsageError(f"{exc} ({source.field})") from None
    return warnings


class _AnnotationSource(NamedTuple):
    field: str  # where the config names it, for messages
    detail: str  # how the config spells the path, if it is joined from parts
    path: str  # resolved path
    hint: str  # --cfg-options override that points it elsewhere
    check_args: dict | None  # keyword arguments of check_coco_instances, None: not COCO


def _annotation_files(cfg: Config, loaders: tuple[str, ...]) -> Iterator[_AnnotationSource]:
    for loader in loaders:
        if cfg.get(loader):
            scope = cfg.get("default_scope")
            yield from _dataset_annotation_files(cfg[loader].dataset, f"{loader}.dataset", scope)
        evaluator_key = loader.replace("_dataloader", "_evaluator")
        yield from _evaluator_annotation_files(cfg, evaluator_key, cfg.get("default_scope"))


def _dataset_annotation_files(
    dataset: dict, field: str, scope: str | None
) -> Iterator[_AnnotationSource]:
    for leaf_field, leaf in _leaf_datasets(dataset, field):
        ann_file = leaf.get("ann_file")
        if ann_file:
            root = leaf.get("data_root") or ""
            path = ann_file if osp.isabs(ann_file) else osp.join(root, ann_file)
            detail = f": data_root={root!r}, ann_file={ann_file!r}"
            hint = f"{leaf_field}.data_root=/path/to/dataset/"
            check_args = _coco_check_args(leaf, scope)
            yield _AnnotationSource(leaf_field, detail, path, hint, check_args)


def _registered_subclass(registry, cfg: dict, scope: str | None, base: type) -> type | None:
    """The class ``cfg['type']`` names (or is) if it derives from ``base``, else None."""
    with registry.switch_scope_and_registry(scope) as scoped:
        found = scoped.get(cfg["type"]) if isinstance(cfg.get("type"), str) else cfg.get("type")
    return found if isinstance(found, type) and issubclass(found, base) else None


def _dataset_classes(dataset: dict, dataset_cls: type) -> tuple[str, ...] | None:
    """The class names a dataset trains on: ``metainfo.classes``, else its class's default."""
    classes = (dataset.get("metainfo") or {}).get("classes")
    classes = classes or getattr(dataset_cls, "METAINFO", {}).get("classes")
    return tuple(classes) if classes else None


def _coco_check_args(dataset: dict, scope: str | None) -> dict | None:
    """How to check a dataset's file: classes, image folder, filter; None if not COCO-style."""
    from mmdet.datasets import CocoDataset
    from mmdet.registry import DATASETS

    dataset_cls = _registered_subclass(DATASETS, dataset, scope, CocoDataset)
    if dataset_cls is None:
        return None
    classes = _dataset_classes(dataset, dataset_cls)
    root = dataset.get("data_root") or ""
    prefix = (dataset.get("data_prefix") or {}).get("img", "")
    image_dir = None if _is_remote(root + prefix) else osp.join(root, prefix)
    filter_empty_gt = (dataset.get("filter_cfg") or {}).get("filter_empty_gt", False)
    annotated_only = filter_empty_gt and not dataset.get("test_mode", False)
    return dict(classes=classes, image_dir=image_dir, annotated_only=annotated_only)


def _evaluator_annotation_files(
    cfg: Config, key: str, scope: str | None
) -> Iterator[_AnnotationSource]:
    from mmdet.evaluation import CocoMetric
    from mmdet.registry import METRICS

    evaluators = cfg.get(key) or []
    if isinstance(evaluators, dict):
        named = [(key, evaluators)]
    else:
        named = [(f"{key}[{index}]", evaluator) for index, evaluator in enumerate(evaluators)]
    for field, evaluator in named:
        if evaluator.get("ann_file"):
            hint = f"{field}.ann_file=/path/to/ann.json"
            is_coco = _registered_subclass(METRICS, evaluator, scope, CocoMetric) is not None
            check_args = {} if is_coco else None
            yield _AnnotationSource(f"{field}.ann_file", "", evaluator.ann_file, hint, check_args)


def check_num_classes(cfg: Config, loader: str) -> None:
    """Each box / mask head's ``num_classes`` must equal the number of the dataset's classes.

    mmdet trains a head with the wrong count without complaint (an 80-class
    head on a 3-class set). The RPN head and other heads are not compared.
    """
    from mmdet.registry import DATASETS
    from mmengine.dataset import BaseDataset

    if not cfg.get(loader) or not cfg.get("model"):
        return
    field, dataset = next(_leaf_datasets(cfg[loader].dataset, f"{loader}.dataset"))
    dataset_cls = _registered_subclass(DATASETS, dataset, cfg.get("default_scope"), BaseDataset)
    classes = _dataset_classes(dataset, dataset_cls) if dataset_cls else None
    for head_field, num_classes in _head_num_classes(cfg.model, "model") if classes else ():
        if num_classes != len(classes):
            raise UsageError(
                f"{head_field}.num_classes={num_classes} but {field} has {len(classes)} classes "
                f"{classes}; set {head_field}.num_classes={len(classes)}"
            )


def _head_num_classes(node, field: str) -> Iterator[tuple[str, int]]:
    """``(field, num_classes)`` of every ``bbox_head`` / ``mask_head`` (or list of them)."""
    if isinstance(node, list | tuple):
        for index, child in enumerate(node):
            yield from _head_num_classes(child, f"{field}[{index}]")
    if not isinstance(node, dict):
        return
    for key, child in node.items():
        if key not in ("bbox_head", "mask_head"):
            yield from _head_num_classes(child, f"{field}.{key}")
            continue
        heads = [(f"{field}.{key}", child)] if isinstance(child, dict) else []
        if isinstance(child, list | tuple):
            heads = [(f"{field}.{key}[{index}]", head) for index, head in enumerate(child)]
        for head_field, head in heads:
            if isinstance(head, dict) and isinstance(head.get("num_classes"), int):
                yield head_field, head["num_classes"]


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

    URLs and the names of mmengine's URL schemes (``torchvision://resnet50``) must
    resolve, and be present offline (:func:`~.url_checkpoints.check_url_checkpoint`);
    they are loaded weights-only when the runner reads them.

    Args:
        path (str): Checkpoint path, URL or ``scheme://`` name.
        what (str): How the user gave it, for the message (e.g. ``'--resume'``).
    """
    if _is_remote(path):
        try:
            check_url_checkpoint(path)
        except CheckpointError as exc:
            raise UsageError(f"{what}: {exc}") from None
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


def check_pretrained_checkpoints(cfg: Config) -> None:
    """Every ``init_cfg=dict(type='Pretrained', checkpoint=...)`` in the model must be usable."""
    for field, checkpoint in _pretrained_checkpoints(cfg.get("model"), "model"):
        check_checkpoint(checkpoint, f"{field}.checkpoint")


def _pretrained_checkpoints(node, field: str) -> Iterator[tuple[str, str]]:
    if isinstance(node, list | tuple):
        for index, child in enumerate(node):
            yield from _pretrained_checkpoints(child, f"{field}[{index}]")
    if not isinstance(node, dict):
        return
    if node.get("type") == "Pretrained" and isinstance(node.get("checkpoint"), str):
        yield field, node["checkpoint"]
    for key, child in node.items():
        yield from _pretrained_checkpoints(child, f"{field}.{key}")
