"""EvoNorm-S0 (function, CPU/Triton kernels, norm layer) and BN with test-time batch statistics."""

from .batch_stats_bn import BatchStatsBN, convert_to_batch_stats
from .evonorm import EVONORM_PARAMWISE_CUSTOM_KEYS, EvoNormS0, act_cfg_after_norm
from .evonorm_function import EvoNormS0Function, evonorm_s0

__all__ = [
    "BatchStatsBN",
    "EVONORM_PARAMWISE_CUSTOM_KEYS",
    "EvoNormS0",
    "EvoNormS0Function",
    "act_cfg_after_norm",
    "convert_to_batch_stats",
    "evonorm_s0",
]
