"""Shared RoI heads: the stride-1 res5 stage of the "C3" rows."""

from .res5_shared_head import Res5SharedHead

__all__ = ["Res5SharedHead"]
