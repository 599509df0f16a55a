"""Neck stages: NonLocal before the FPN, Fusion and Balance after it."""

from .balance_stage import BalanceStage
from .fusion_stage import FusionStage
from .non_local_block import GatedNonLocalBlock
from .non_local_stage import NonLocalStage
from .resize import RESIZE_MODES, mean_resized, resize_bilinear

__all__ = [
    "RESIZE_MODES",
    "BalanceStage",
    "FusionStage",
    "GatedNonLocalBlock",
    "NonLocalStage",
    "mean_resized",
    "resize_bilinear",
]
