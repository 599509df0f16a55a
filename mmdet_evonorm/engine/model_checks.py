"""Build the model once before the run, and check that checkpoints fit it.

The runner builds the model only after it has created the work dir, written
the log and dumped the config, so a misspelled nested ``type`` (``FPNX``), a
bad argument or an EvoNorm-S0 ``group_size`` that does not divide the channels
would end in a traceback after writes. :func:`build_model_up_front` builds
``cfg.model`` on the CPU first (about 1 s for the R50 recipe, weights not
initialised or loaded) and turns a config mistake into one line naming the
config field::

    model.neck: FPNX is not in the mmdet::model registry; check the spelling ...
    model.neck (FPN): EvoNormS0: group_size=5 must divide num_features=32; fix ...

:func:`check_checkpoint_fits` compares a checkpoint's ``state_dict`` keys and
shapes with that model: resuming and testing need every model key with its
shape (resuming also no extra key, as the optimizer state follows the
parameters); ``load_from`` needs :data:`MIN_LOADED_FRACTION` of them, as
fine-tuning to another class count changes a few class-dependent layers (6 of
the recipe's 388 keys). Misfits give one line with counts and examples.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator

import torch
from mmengine.config import Config
from torch import nn

from .checks import UsageError

#: ``load_from`` must provide at least this share of the model's keys (present,
#: same shape); another width, neck or head type misses far more.
MIN_LOADED_FRACTION = 0.9
_UNKNOWN_TYPE = re.compile(r"^(\S+) is not in the (\S+) registry")
_CONFIG_ERRORS = (KeyError, TypeError, ValueError, AssertionError)


def build_model_up_front(cfg: Config) -> nn.Module:
    """Build ``cfg.model`` in ``cfg.default_scope``; config errors become a ``UsageError``."""
    from mmdet.registry import MODELS

    with MODELS.switch_scope_and_registry(cfg.get("default_scope")) as registry:
        try:
            return registry.build(copy.deepcopy(cfg.model))
        except _CONFIG_ERRORS as exc:
            raise UsageError(explain_build_error(cfg.model, exc)) from None


def explain_build_error(model_cfg: dict, exc: Exception) -> str:
    """One line: the config field of the innermost module being built, and the reason."""
    detail = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
    detail = detail.strip().splitlines()[0] if detail.strip() else type(exc).__name__
    unknown = _UNKNOWN_TYPE.match(detail)
    if unknown:
        field = _find_type(model_cfg, unknown.group(1)) or "model"
        return (
            f"{field}: {unknown.group(1)} is not in the {unknown.group(2)} registry; check the "
            f"spelling of {field}.type, or add the module that defines it to custom_imports"
        )
    module_type = _innermost_built_type(exc)
    field = _find_type(model_cfg, module_type) if module_type else None
    where = f"{field} ({module_type})" if field else "model"
    return f"{where}: {detail}; fix that part of the config"


def _innermost_built_type(exc: Exception) -> str | None:
    """``type`` of the config that the innermost registry ``build_from_cfg`` call was building."""
    module_type = None
    traceback = exc.__traceback__
    while traceback is not None:
        frame = traceback.tb_frame
        if frame.f_code.co_name == "build_from_cfg" and "mmengine.registry" in frame.f_globals.get(
            "__name__", ""
        ):
            built = frame.f_locals.get("cfg")
            if isinstance(built, dict) and isinstance(built.get("type"), str):
                module_type = built["type"]
        traceback = traceback.tb_next
    return module_type


def _find_type(node, wanted: str, field: str = "model") -> str | None:
    """Config path of the first dict in ``node`` (itself included) whose ``type`` is ``wanted``."""
    if isinstance(node, dict) and node.get("type") == wanted:
        return field
    for child_field, child in _children(node, field):
        found = _find_type(child, wanted, child_field)
        if found:
            return found
    return None


def _children(node, field: str) -> Iterator[tuple[str, object]]:
    if isinstance(node, dict):
        yield from ((f"{field}.{key}", value) for key, value in node.items())
    elif isinstance(node, list | tuple):
        yield from ((f"{field}[{index}]", value) for index, value in enumerate(node))


def check_checkpoint_fits(model: nn.Module, checkpoint: dict, path: str, use: str) -> None:
    """Raise a ``UsageError`` when ``checkpoint`` does not fit ``model`` for ``use``.

    Args:
        model (nn.Module): The model built from the config.
        checkpoint (dict): The loaded checkpoint (``state_dict`` inside, or bare).
        path (str): Its path, for the message.
        use (str): ``'resume'``, ``'test'`` or ``'load_from'``.
    """
    state = checkpoint.get("state_dict", checkpoint)
    state = {re.sub(r"^module\.", "", key): value for key, value in state.items()}
    expected = model.state_dict()
    missing = [key for key in expected if key not in state]
    unexpected = [key for key in state if key not in expected]
    reshaped = [
        f"{key}: {tuple(state[key].shape)} in the checkpoint, {tuple(value.shape)} in the model"
        for key, value in expected.items()
        if key in state and isinstance(state[key], torch.Tensor) and state[key].shape != value.shape
    ]
    loadable = len(expected) - len(missing) - len(reshaped)
    if use == "load_from":
        fits = loadable >= MIN_LOADED_FRACTION * len(expected)
    else:
        fits = not missing and not reshaped and (use == "test" or not unexpected)
    if not fits:
        summary = _summary(len(expected), missing, unexpected, reshaped)
        raise UsageError(
            f"{use}: {path} does not fit the model of this config ({summary}); pass a "
            "checkpoint of this config's model"
        )


def _summary(total: int, missing: list, unexpected: list, reshaped: list) -> str:
    parts = []
    for count_text, keys in (
        (f"{len(missing)} of {total} model keys missing", missing),
        (f"{len(unexpected)} unexpected keys", unexpected),
        (f"{len(reshaped)} with another shape", reshaped),
    ):
        if keys:
            parts.append(f"{count_text}, e.g. {'; '.join(keys[:2])}")
    return "; ".join(parts)
