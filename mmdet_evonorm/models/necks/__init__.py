"""Neck stages (NonLocal, Fusion, Balance) and the RPN feature routing."""

from .balance_stage import BalanceStage
from .fusion_stage import FusionStage
from .non_local_block import GatedNonLocalBlock
from .non_local_stage import NonLocalStage
from .resize import RESIZE_MODES, mean_resized, resize_bilinear
from .routed_rpn_head import RoutedRPNHead

__all__ = [
    "RESIZE_MODES",
    "BalanceStage",
    "FusionStage",
    "GatedNonLocalBlock",
    "NonLocalStage",
    "RoutedRPNHead",
    "mean_resized",
    "resize_bilinear",
]
