"""The config itself: its bases, its ``type`` names and the heads' class count."""

from __future__ import annotations

from mmengine.config import Config
from mmengine.config.utils import ConfigParsingError

from .bad_input import BadInputError
from .config_walk import leaf_datasets, walk, walk_config
from .files import check_config_file


def read_config(path: str) -> Config:
    """``Config.fromfile``; a missing file or a base it cannot read is one line naming it."""
    check_config_file(path)
    try:
        return Config.fromfile(path)
    except ConfigParsingError as exc:  # e.g. `read_base()` importing a row that does not exist
        raise BadInputError(f"{path}: {exc}") from None
    except SyntaxError as exc:
        raise BadInputError(f"{path}: {str(exc).splitlines()[0]}; fix the config") from None
    except RuntimeError as exc:  # an old-style `_base_` naming a pure-Python config
        if "inheritance chain must match" not in str(exc):
            raise
        raise BadInputError(
            f"{path}: an old-style config (`_base_ = ...`) cannot inherit a pure-Python one, "
            "such as this package's rows; inherit with `with read_base(): from "
            "mmdet_evonorm.configs.<row> import *` (README: Use in your own project)"
        ) from None


def check_types(cfg: Config) -> None:
    """Every ``type`` name of the sections the runner builds must be registered.

    One lookup per node of :func:`~.config_walk.walk_config`, so e.g.
    ``train_dataloader.dataset.pipeline[1].type='LoadAnnotationz'`` fails here,
    not when the runner builds the dataloader after it wrote its work dir. The
    model, optimizer and schedulers are built up front instead; an unknown name
    there gets the same message (:func:`~.builds.explain_build_error`).
    """
    scope = cfg.get("default_scope")
    for node in walk_config(cfg):
        name = node.cfg.get("type")
        if node.registries and isinstance(name, str):
            found = [_lookup(registry, name, scope) for registry in node.registries]
            if not any(registered for registered, _ in found):
                raise BadInputError(unknown_type(node.field, name, found[0][1]))


def _lookup(registry_name: str, name: str, scope: str | None) -> tuple[bool, str]:
    """Whether ``name`` is in the mmdet registry ``registry_name``, and its ``scope::name``."""
    from mmdet import registry as mmdet_registries

    with getattr(mmdet_registries, registry_name).switch_scope_and_registry(scope) as scoped:
        return scoped.get(name) is not None, f"{scoped.scope}::{scoped.name}"


def unknown_type(field: str, name: str, registry: str) -> str:
    """The one message for a ``type`` that its registry does not have."""
    return (
        f"{field}.type={name!r} is not in the {registry} registry; check the spelling, or "
        "add the module that defines it to custom_imports in the config"
    )


def check_num_classes(cfg: Config, loader: str) -> None:
    """Each box / mask head's ``num_classes`` must equal the number of the dataset's classes.

    mmdet trains a head with the wrong count without complaint (an 80-class
    head on a 3-class set). The RPN head and other heads are not compared.
    """
    datasets = leaf_datasets(cfg, loader)
    classes = dataset_classes(datasets[0].cfg, cfg.get("default_scope")) if datasets else None
    if not classes or not cfg.get("model"):
        return
    for node in walk(cfg.model, "model"):
        num_classes = node.cfg.get("num_classes")
        is_head = node.key in ("bbox_head", "mask_head") and isinstance(num_classes, int)
        if is_head and num_classes != len(classes):
            raise BadInputError(
                f"{node.field}.num_classes={num_classes} but {datasets[0].field} has "
                f"{len(classes)} classes {classes}; set {node.field}.num_classes={len(classes)}"
            )


def registered_subclass(registry, cfg: dict, scope: str | None, base: type) -> type | None:
    """The class ``cfg['type']`` names (or is) if it derives from ``base``, else None."""
    with registry.switch_scope_and_registry(scope) as scoped:
        found = scoped.get(cfg["type"]) if isinstance(cfg.get("type"), str) else cfg.get("type")
    return found if isinstance(found, type) and issubclass(found, base) else None


def dataset_classes(dataset: dict, scope: str | None) -> tuple[str, ...] | None:
    """The class names a dataset reads: ``metainfo.classes``, else its class's default."""
    from mmdet.registry import DATASETS
    from mmengine.dataset import BaseDataset

    classes = (dataset.get("metainfo") or {}).get("classes")
    dataset_cls = registered_subclass(DATASETS, dataset, scope, BaseDataset)
    if not classes and dataset_cls is not None:
        classes = getattr(dataset_cls, "METAINFO", {}).get("classes")
    return tuple(classes) if classes else None
