"""Build what the config describes before the run, and name the config field of a failure.

The runner builds the model, the optimizer wrapper and the parameter schedulers
only after it has created the work dir, written the log and dumped the config,
so a bad argument (``lr=-1``, ``milestones='8'``) or an EvoNorm-S0 ``group_size``
that does not divide the channels would end in a traceback after writes. Here
they are built first, on the CPU, and a failure becomes one line naming the
config field of the innermost module being built::

    model.neck (FPN): EvoNormS0: group_size=5 must divide num_features=32; fix ...
    optim_wrapper.optimizer (SGD): Invalid learning rate: -1; fix ...

:func:`build_model_up_front` returns the model, which the tools hand to the
runner (built once per run, :mod:`~mmdet_evonorm.engine.runner_build`). The
optimizer wrapper and schedulers are only a check (no optimizer state exists
yet), dropped and built again by the runner on the model it has moved to the
device and wrapped.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from typing import Any

from mmengine.config import Config
from mmengine.registry import DefaultScope
from torch import nn

from .bad_input import BadInputError
from .config import unknown_type
from .config_walk import find_type

_CONFIG_ERRORS = (KeyError, TypeError, ValueError, AssertionError, IndexError)
#: mmengine's ``build_from_cfg`` message for a name its registry does not have.
_UNKNOWN_TYPE = re.compile(r"^(\S+) is not in the (.+?) registry")


def build_checked(build: Callable[[], Any], cfg: Any, field: str) -> Any:
    """``build()``; a config error (not a :class:`BadInputError`) becomes one naming ``field``."""
    try:
        return build()
    except BadInputError:
        raise
    except _CONFIG_ERRORS as exc:
        raise BadInputError(explain_build_error(cfg, field, exc)) from None


def build_model_up_front(cfg: Config) -> nn.Module:
    """Build ``cfg.model`` (with ``cfg.data_preprocessor`` as ``Runner`` merges it) on the CPU."""
    from mmdet.registry import MODELS

    model_cfg = copy.deepcopy(cfg.model)
    if cfg.get("data_preprocessor") is not None:
        model_cfg.setdefault("data_preprocessor", cfg.data_preprocessor)
    with DefaultScope.overwrite_default_scope(cfg.get("default_scope")):
        return build_checked(lambda: MODELS.build(model_cfg), cfg.model, "model")


def check_optimizer_and_schedulers(cfg: Config, model: nn.Module) -> None:
    """Build ``optim_wrapper`` on ``model`` and each ``param_scheduler`` on it, then drop them.

    As ``Runner`` builds them: a scheduler without ``end`` ends with the train
    loop (``max_iters``, or ``max_epochs`` when ``by_epoch``). The dataloader is
    not built, so epoch-based schedulers converted to iterations see an epoch of
    one iteration; their arguments are checked all the same.
    """
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import PARAM_SCHEDULERS

    if cfg.get("optim_wrapper") is None:
        return
    with DefaultScope.overwrite_default_scope(cfg.get("default_scope")):
        optim_wrapper = build_checked(
            lambda: build_optim_wrapper(model, copy.deepcopy(cfg.optim_wrapper)),
            cfg.optim_wrapper,
            "optim_wrapper",
        )
        train_cfg = cfg.get("train_cfg") or {}
        for field, scheduler in _schedulers(cfg):
            scheduler = copy.deepcopy(scheduler)
            end = train_cfg.get("max_epochs" if scheduler.get("by_epoch", True) else "max_iters")
            if end is not None:
                scheduler.setdefault("end", end)
            build_checked(
                lambda s=scheduler: PARAM_SCHEDULERS.build(  # default_args: consumed per build
                    s, default_args=dict(optimizer=optim_wrapper, epoch_length=1)
                ),
                scheduler,
                field,
            )


def _schedulers(cfg: Config) -> list[tuple[str, dict]]:
    schedulers = cfg.get("param_scheduler") or []
    if isinstance(schedulers, dict):
        return [("param_scheduler", schedulers)]
    return [(f"param_scheduler[{index}]", s) for index, s in enumerate(schedulers)]


def explain_build_error(cfg: Any, field: str, exc: Exception) -> str:
    """One line: the config field of the innermost module being built, and the reason.

    A name that a registry does not have gets :func:`~.config.unknown_type`'s
    message, as in the sections checked without building.

    Args:
        cfg: The config that was being built (``cfg.model``, a scheduler, ...).
        field (str): Its field (``'model'``).
        exc (Exception): What the build raised.
    """
    detail = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
    detail = detail.strip().splitlines()[0] if detail.strip() else type(exc).__name__
    module_type = _innermost_built_type(exc)
    found = find_type(cfg, module_type, field) if module_type else None
    unknown = _UNKNOWN_TYPE.match(detail) if isinstance(exc, KeyError) else None
    if unknown and found:
        return unknown_type(found, unknown.group(1), unknown.group(2))
    where = f"{found} ({module_type})" if found else field
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
