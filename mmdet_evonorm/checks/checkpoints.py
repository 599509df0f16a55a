"""Checkpoints a run loads: they exist, are files, load weights-only and fit the model.

:func:`check_checkpoint_fits` compares a checkpoint's ``state_dict`` keys and
shapes with the model built from the config: resuming and testing need every
model key with its shape (resuming also no extra key, as the optimizer state
follows the parameters); ``load_from`` needs :data:`MIN_LOADED_FRACTION` of them,
as fine-tuning to another class count changes a few class-dependent layers (6 of
the recipe's 388 keys). Misfits give one line with counts and examples.
"""

from __future__ import annotations

import os.path as osp
import re

import torch
from mmengine.config import Config
from mmengine.runner import find_latest_checkpoint
from torch import nn

from ..engine.safe_checkpoint import check_weights_only
from ..engine.url_checkpoints import check_url_checkpoint
from .bad_input import BadInputError
from .config_walk import walk

#: ``load_from`` must provide at least this share of the model's keys (present,
#: same shape); another width, neck or head type misses far more.
MIN_LOADED_FRACTION = 0.9


def check_checkpoint(path: str, what: str) -> None:
    """A local checkpoint must be a file that loads weights-only (nothing in it runs).

    URLs and the names of mmengine's URL schemes (``torchvision://resnet50``) must
    resolve, and be present offline (:func:`~..engine.url_checkpoints.check_url_checkpoint`);
    they are loaded weights-only when the runner reads them.

    Args:
        path (str): Checkpoint path, URL or ``scheme://`` name.
        what (str): How the user gave it, for the message (e.g. ``'--resume'``).
    """
    if osp.isdir(path):
        raise BadInputError(f"checkpoint {path!r} ({what}) is a folder; {_files_in(path)}")
    if "://" not in path and not osp.isfile(path):
        raise BadInputError(f"checkpoint {path!r} ({what}) not found")
    check = check_url_checkpoint if "://" in path else check_weights_only
    try:
        check(path)
    except BadInputError as exc:
        raise BadInputError(f"{what}: {exc}") from None


def _files_in(folder: str) -> str:
    latest = find_latest_checkpoint(folder)
    return f"pass a checkpoint file in it, e.g. {latest}" if latest else "pass a checkpoint file"


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
    for node in walk(cfg.get("model"), "model"):
        checkpoint = node.cfg.get("checkpoint")
        if node.cfg.get("type") == "Pretrained" and isinstance(checkpoint, str):
            check_checkpoint(checkpoint, f"{node.field}.checkpoint")


def check_checkpoint_fits(model: nn.Module, checkpoint: dict, path: str, use: str) -> None:
    """Raise a ``BadInputError`` when ``checkpoint`` does not fit ``model`` for ``use``.

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
        raise BadInputError(
            f"{use}: {path} does not fit the model of this config ({summary}); pass a "
            "checkpoint of this config's model"
        )


def check_local_checkpoint_fits(model: nn.Module, path: str | None, use: str) -> None:
    """:func:`check_checkpoint_fits` for a local ``path``; None or a URL is skipped."""
    if path and "://" not in path:
        model = getattr(model, "module", model)  # a test-time-augmentation wrapper
        check_checkpoint_fits(model, check_weights_only(path), path, use)


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
