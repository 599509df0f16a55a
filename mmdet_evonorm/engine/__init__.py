"""Hooks, optimizer wrappers and runtime helpers (safe checkpoints, NaN guard, CLIs).

Importing it registers :class:`SafeCheckpointHook`, :class:`AtomicCheckpointHook`,
:class:`IterationSeedHook`, :class:`NonFiniteGuardHook` and
:class:`NonFiniteGuardOptimWrapper`; the command lines of ``tools/train.py`` and
``tools/test.py`` live in :mod:`.cli`.
"""

from .hooks import (
    AtomicCheckpointHook,
    IterationSeedHook,
    NonFiniteGuardHook,
    NonFiniteLossError,
    SafeCheckpointHook,
)
from .optim_wrappers import NonFiniteGuardOptimWrapper
from .safe_checkpoint import check_weights_only, convert_checkpoint

__all__ = [
    "AtomicCheckpointHook",
    "IterationSeedHook",
    "NonFiniteGuardHook",
    "NonFiniteGuardOptimWrapper",
    "NonFiniteLossError",
    "SafeCheckpointHook",
    "check_weights_only",
    "convert_checkpoint",
]
