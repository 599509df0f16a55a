"""Runner hooks; importing this module registers them in mmdet's ``HOOKS``."""

from .safe_checkpoint_hook import SafeCheckpointHook

__all__ = ["SafeCheckpointHook"]
