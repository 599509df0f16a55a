"""The one walker over configs: every dict of a config, with its field and registry.

Every check that reads a config walks it with :func:`walk`::

    for node in walk_config(cfg):
        node.field        'train_dataloader.dataset.pipeline[1]'  (for messages)
        node.key          'pipeline'  (the key it sits under; list items: their list's)
        node.cfg          {'type': 'LoadAnnotations', 'with_bbox': True}
        node.registries   ('TRANSFORMS',)  where its ``type`` is looked up (None: nowhere)

The registries follow mmengine's ``Runner``: which section it builds from which
mmdet registry (:data:`SECTION_REGISTRIES`), and below a section the keys of
:data:`KEY_REGISTRIES` (list items share their list's). Any other nested dict
gets none: modules read such dicts their own way, e.g. FPG's
``same_up_trans=dict(type='conv')``; below ``Albu``'s ``transforms``
(albumentations class names) nothing is looked up.
The model gets none either: it is built up front instead
(:mod:`~mmdet_evonorm.checks.builds`), as its modules resolve many ``type`` names
without a registry (validated on the 823 configs shipped with mmdet 3.3.0).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

#: Sections the runner builds, and the registries of their ``type`` entries.
SECTION_REGISTRIES = {
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
    "custom_hooks": ("HOOKS",),
    "val_evaluator": ("METRICS", "EVALUATOR"),
    "test_evaluator": ("METRICS", "EVALUATOR"),
    "visualizer": ("VISUALIZERS",),
    "log_processor": ("LOG_PROCESSORS",),
}
#: Sections that map names to entries of one registry.
COLLECTION_REGISTRIES = {"default_hooks": ("HOOKS",)}
#: Keys below a section whose entries belong to a registry.
KEY_REGISTRIES = {
    "dataset": ("DATASETS",),
    "datasets": ("DATASETS",),
    "pipeline": ("TRANSFORMS",),
    "transforms": ("TRANSFORMS",),
    "sampler": ("DATA_SAMPLERS",),
    "batch_sampler": ("DATA_SAMPLERS",),
    "optimizer": ("OPTIMIZERS",),
    "metrics": ("METRICS",),
    "vis_backends": ("VISBACKENDS",),
}
#: Modules whose entries under a key are not registry names.
_FOREIGN_KEYS = {"Albu": "transforms"}  # albumentations class names
_WRAPPED = ("dataset", "datasets")


class ConfigNode(NamedTuple):
    """One dict of a config (see the module docstring)."""

    field: str
    key: str
    cfg: dict
    registries: tuple[str, ...] | None


def walk(
    node, field: str, registries: tuple[str, ...] | None = (), key: str = ""
) -> Iterator[ConfigNode]:
    """Every dict in ``node`` (itself included), depth first, in the config's order."""
    if isinstance(node, list | tuple):
        for index, child in enumerate(node):
            yield from walk(child, f"{field}[{index}]", registries, key)
    if not isinstance(node, dict):
        return
    yield ConfigNode(field, key, node, registries)
    foreign = _FOREIGN_KEYS.get(node.get("type"))
    for child_key, child in node.items():
        child_registries = KEY_REGISTRIES.get(child_key, ())
        if registries is None or child_key == foreign:
            child_registries = None
        yield from walk(child, f"{field}.{child_key}", child_registries, child_key)


def walk_config(cfg: dict) -> Iterator[ConfigNode]:
    """:func:`walk` over the sections of :data:`SECTION_REGISTRIES` and collections."""
    for section, registries in SECTION_REGISTRIES.items():
        yield from walk(cfg.get(section), section, registries, section)
    for section, registries in COLLECTION_REGISTRIES.items():
        for name, entry in (cfg.get(section) or {}).items():
            yield from walk(entry, f"{section}.{name}", registries, name)


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
