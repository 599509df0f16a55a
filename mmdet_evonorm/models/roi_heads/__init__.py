"""RoI-side components: the score-gated RoI head, box heads, mask heads, shared heads."""

from . import bbox_heads, mask_heads, shared_heads  # noqa: F401
from .score_gated_roi_head import ScoreGatedRoIHead

__all__ = ["ScoreGatedRoIHead"]
