"""The annotation files a run reads: those of its dataloaders' datasets and evaluators."""

from __future__ import annotations

import os.path as osp
from collections.abc import Iterator
from typing import NamedTuple

from mmengine.config import Config

from .bad_input import BadInputError
from .coco_instances import check_coco_instances
from .config import dataset_classes, registered_subclass
from .config_walk import leaf_datasets, walk


def check_annotation_files(cfg: Config, loaders: tuple[str, ...]) -> list[str]:
    """Every annotation file that ``loaders`` and their evaluators read must exist and be sound.

    COCO-style datasets get one pass over their JSON
    (:func:`~.coco_instances.check_coco_instances`: structure, class names,
    references, degenerate geometry, image files); evaluator files get the
    structure and reference checks.

    Args:
        cfg (Config): Full config.
        loaders (tuple[str]): Dataloader keys, e.g. ``('train_dataloader',)``;
            the matching ``*_evaluator`` is checked too.

    Returns:
        list[str]: Warning lines (tolerated degenerate annotations).
    """
    warnings = []
    for source in _annotation_files(cfg, loaders):
        if "://" in source.path:
            continue
        if not osp.isfile(source.path):
            state = "is a folder" if osp.isdir(source.path) else "not found"
            raise BadInputError(
                f"annotation file {source.path!r} ({source.field}{source.detail}) {state}; put "
                f"the dataset there or point the config at it: --cfg-options {source.hint}"
            )
        if source.check_args is None:  # not a COCO-style file
            continue
        try:
            warnings += check_coco_instances(source.path, **source.check_args)
        except BadInputError as exc:
            raise BadInputError(f"{exc} ({source.field})") from None
    return warnings


class _AnnotationSource(NamedTuple):
    field: str  # where the config names it, for messages
    detail: str  # how the config spells the path, if it is joined from parts
    path: str  # resolved path
    hint: str  # --cfg-options override that points it elsewhere
    check_args: dict | None  # keyword arguments of check_coco_instances, None: not COCO


def _annotation_files(cfg: Config, loaders: tuple[str, ...]) -> Iterator[_AnnotationSource]:
    scope = cfg.get("default_scope")
    for loader in loaders:
        for dataset in leaf_datasets(cfg, loader):
            yield from _dataset_file(dataset.field, dataset.cfg, scope)
        evaluator = loader.replace("_dataloader", "_evaluator")
        for node in walk(cfg.get(evaluator), evaluator):
            yield from _evaluator_file(node.field, node.cfg, scope)


def _dataset_file(field: str, dataset: dict, scope: str | None) -> Iterator[_AnnotationSource]:
    ann_file = dataset.get("ann_file")
    if ann_file:
        root = dataset.get("data_root") or ""
        path = ann_file if osp.isabs(ann_file) else osp.join(root, ann_file)
        detail = f": data_root={root!r}, ann_file={ann_file!r}"
        hint = f"{field}.data_root=/path/to/dataset/"
        yield _AnnotationSource(field, detail, path, hint, _coco_check_args(dataset, scope))


def _coco_check_args(dataset: dict, scope: str | None) -> dict | None:
    """How to check a dataset's file: classes, image folder, filter; None if not COCO-style."""
    from mmdet.datasets import CocoDataset
    from mmdet.registry import DATASETS

    if registered_subclass(DATASETS, dataset, scope, CocoDataset) is None:
        return None
    root = dataset.get("data_root") or ""
    prefix = (dataset.get("data_prefix") or {}).get("img", "")
    image_dir = None if "://" in root + prefix else osp.join(root, prefix)
    filter_empty_gt = (dataset.get("filter_cfg") or {}).get("filter_empty_gt", False)
    annotated_only = filter_empty_gt and not dataset.get("test_mode", False)
    classes = dataset_classes(dataset, scope)
    return dict(classes=classes, image_dir=image_dir, annotated_only=annotated_only)


def _evaluator_file(field: str, evaluator: dict, scope: str | None) -> Iterator[_AnnotationSource]:
    from mmdet.evaluation import CocoMetric
    from mmdet.registry import METRICS

    if evaluator.get("ann_file"):
        hint = f"{field}.ann_file=/path/to/ann.json"
        is_coco = registered_subclass(METRICS, evaluator, scope, CocoMetric) is not None
        yield _AnnotationSource(
            f"{field}.ann_file", "", evaluator["ann_file"], hint, {} if is_coco else None
        )
