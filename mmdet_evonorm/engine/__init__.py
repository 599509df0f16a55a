"""Hooks and runtime helpers (safe checkpoints, CPU-distributed launch, tool CLIs).

Importing it registers :class:`SafeCheckpointHook`; the command lines of
``tools/train.py`` and ``tools/test.py`` live in :mod:`.cli`.
"""

from .hooks import SafeCheckpointHook
from .safe_checkpoint import check_weights_only, convert_checkpoint

__all__ = ["SafeCheckpointHook", "check_weights_only", "convert_checkpoint"]
