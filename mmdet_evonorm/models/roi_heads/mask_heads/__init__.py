"""Mask heads: FCN mask head with a norm after the deconv."""

from .norm_fcn_mask_head import NormFCNMaskHead

__all__ = ["NormFCNMaskHead"]
