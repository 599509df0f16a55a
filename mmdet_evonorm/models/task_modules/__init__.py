"""Training-time helpers of the RoI heads (samplers)."""

from .samplers import GTDrawRandomSampler

__all__ = ["GTDrawRandomSampler"]
