"""Hooks, optimizer wrappers and runtime helpers (safe checkpoints, NaN guard, CLIs).

Importing it registers :class:`SafeCheckpointHook`, :class:`AtomicCheckpointHook`,
:class:`IterationSeedHook`, :class:`NonFiniteGuardHook`, :class:`PreciseBNHook` and
:class:`NonFiniteGuardOptimWrapper`, and replaces mmengine's URL checkpoint loaders
with weights-only ones (:mod:`.url_checkpoints`); the command lines of
``tools/train.py`` and ``tools/test.py`` live in :mod:`.cli`.
"""

from .hooks import (
    AtomicCheckpointHook,
    IterationSeedHook,
    NonFiniteGuardHook,
    NonFiniteLossError,
    PreciseBNHook,
    SafeCheckpointHook,
)
from .optim_wrappers import NonFiniteGuardOptimWrapper
from .safe_checkpoint import check_weights_only, convert_checkpoint
from .url_checkpoints import OFFLINE_DIR_ENV, register_weights_only_loaders

__all__ = [
    "AtomicCheckpointHook",
    "IterationSeedHook",
    "NonFiniteGuardHook",
    "NonFiniteGuardOptimWrapper",
    "NonFiniteLossError",
    "OFFLINE_DIR_ENV",
    "PreciseBNHook",
    "SafeCheckpointHook",
    "check_weights_only",
    "convert_checkpoint",
    "register_weights_only_loaders",
]
