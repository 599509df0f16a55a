"""Optimizer wrappers; importing this module registers them in mmdet's ``OPTIM_WRAPPERS``."""

from .non_finite_guard_optim_wrapper import NonFiniteGuardOptimWrapper

__all__ = ["NonFiniteGuardOptimWrapper"]
