"""The one walker over configs: every dict of a config, with its field and registry.

Every check that reads a config walks it with :func:`walk`::

    for node in walk_config(cfg):
        node.field        'train_dataloader.dataset.pipeline[1]'  (for messages)
        node.key          'pipeline'  (the key it sits under; list items: their list's)
        node.cfg          {'type': 'LoadAnnotations', 'with_bbox': True}
        node.registries   ('TRANSFORMS',)  where its ``type`` is looked up

The registries follow mmengine's ``Runner`` (which section builds from which
mmdet registry) and, below a section, the keys in :data:`KEY_REGISTRIES`. Inside
the model, registries mix: heads, losses and norm layers are ``MODELS``;
assigners, samplers and coders ``TASK_UTILS``; ``init_cfg`` ``WEIGHT_INITIALIZERS``;
``nms`` and ``roi_layer`` name :mod:`mmcv.ops` functions and classes. Model nodes
therefore carry all of :data:`MODEL_REGISTRIES`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

#: Names that ``mmcv.ops`` resolves (``nms=dict(type='nms')``, ``roi_layer``).
MMCV_OPS = "mmcv.ops"
MODEL_REGISTRIES = ("MODELS", "TASK_UTILS", "WEIGHT_INITIALIZERS", MMCV_OPS)
#: Top-level sections and the registries of their ``type`` entries (empty: a container).
SECTION_REGISTRIES = {
    "model": MODEL_REGISTRIES,
    "tta_model": MODEL_REGISTRIES,
    "data_preprocessor": MODEL_REGISTRIES,
    "model_wrapper_cfg": ("MODEL_WRAPPERS",),
    "train_dataloader": (),
    "val_dataloader": (),
    "test_dataloader": (),
    "tta_pipeline": ("TRANSFORMS",),
    "train_cfg": ("LOOPS",),
    "val_cfg": ("LOOPS",),
    "test_cfg": ("LOOPS",),
    "optim_wrapper": ("OPTIM_WRAPPERS",),
    "param_scheduler": ("PARAM_SCHEDULERS",),
    "default_hooks": ("HOOKS",),
    "custom_hooks": ("HOOKS",),
    "val_evaluator": ("METRICS",),
    "test_evaluator": ("METRICS",),
    "visualizer": ("VISUALIZERS",),
    "log_processor": ("LOG_PROCESSORS",),
}
#: Keys below a section (outside the model) whose entries belong to another registry.
KEY_REGISTRIES = {
    "dataset": ("DATASETS",),
    "datasets": ("DATASETS",),
    "pipeline": ("TRANSFORMS",),
    "transforms": ("TRANSFORMS",),
    "sampler": ("DATA_SAMPLERS",),
    "batch_sampler": ("DATA_SAMPLERS",),
    "optimizer": ("OPTIMIZERS",),
    "vis_backends": ("VISBACKENDS",),
}
_WRAPPED = ("dataset", "datasets")


class ConfigNode(NamedTuple):
    """One dict of a config (see the module docstring)."""

    field: str
    key: str
    cfg: dict
    registries: tuple[str, ...]


def walk(node, field: str, registries: tuple[str, ...] = (), key: str = "") -> Iterator[ConfigNode]:
    """Every dict in ``node`` (itself included), depth first, in the config's order."""
    if isinstance(node, list | tuple):
        for index, child in enumerate(node):
            yield from walk(child, f"{field}[{index}]", registries, key)
    if not isinstance(node, dict):
        return
    yield ConfigNode(field, key, node, registries)
    for child_key, child in node.items():
        child_registries = registries
        if registries != MODEL_REGISTRIES:
            child_registries = KEY_REGISTRIES.get(child_key, registries)
        yield from walk(child, f"{field}.{child_key}", child_registries, child_key)


def walk_config(cfg: dict) -> Iterator[ConfigNode]:
    """:func:`walk` over every section of :data:`SECTION_REGISTRIES` that ``cfg`` has."""
    for section, registries in SECTION_REGISTRIES.items():
        if cfg.get(section) is not None:
            yield from walk(cfg[section], section, registries, section)


def leaf_datasets(cfg: dict, loader: str) -> list[ConfigNode]:
    """The datasets a dataloader reads, below wrappers (``dataset=`` / ``datasets=[...]``)."""
    return [
        node
        for node in walk(cfg.get(loader), loader)
        if node.registries == KEY_REGISTRIES["dataset"]
        and not any(key in node.cfg for key in _WRAPPED)
    ]


def find_type(node, wanted: str, field: str) -> str | None:
    """Field of the first dict in ``node`` (itself included) whose ``type`` is ``wanted``."""
    found = (child.field for child in walk(node, field) if child.cfg.get("type") == wanted)
    return next(found, None)
