"""EvoNorm-S0: group statistics (function, CPU kernels), then the norm layer."""

from .evonorm import EVONORM_PARAMWISE_CUSTOM_KEYS, EvoNormS0, act_cfg_after_norm
from .evonorm_function import EvoNormS0Function, evonorm_s0

__all__ = [
    "EVONORM_PARAMWISE_CUSTOM_KEYS",
    "EvoNormS0",
    "EvoNormS0Function",
    "act_cfg_after_norm",
    "evonorm_s0",
]
