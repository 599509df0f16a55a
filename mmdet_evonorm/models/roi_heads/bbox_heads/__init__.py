"""Box heads: norm-configurable conv/FC heads and top-1-class inference."""

from .norm_convfc_bbox_head import (
    NormConvFCBBoxHead,
    SepHBBoxHead,
    SepHV2BBoxHead,
    Shared2FCGNBBoxHead,
)
from .top1_per_proposal import Top1PerProposalMixin

__all__ = [
    "NormConvFCBBoxHead",
    "SepHBBoxHead",
    "SepHV2BBoxHead",
    "Shared2FCGNBBoxHead",
    "Top1PerProposalMixin",
]
