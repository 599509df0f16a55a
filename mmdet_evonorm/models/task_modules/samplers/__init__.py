"""RoI samplers."""

from .gt_draw_random_sampler import GTDrawRandomSampler

__all__ = ["GTDrawRandomSampler"]
