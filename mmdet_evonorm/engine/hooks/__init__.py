"""Runner hooks; importing this module registers them in mmdet's ``HOOKS``."""

from .atomic_checkpoint_hook import AtomicCheckpointHook
from .iteration_seed_hook import IterationSeedHook
from .non_finite_guard_hook import NonFiniteGuardHook, NonFiniteLossError
from .precise_bn_hook import PreciseBNHook
from .safe_checkpoint_hook import SafeCheckpointHook

__all__ = [
    "AtomicCheckpointHook",
    "IterationSeedHook",
    "NonFiniteGuardHook",
    "NonFiniteLossError",
    "PreciseBNHook",
    "SafeCheckpointHook",
]
