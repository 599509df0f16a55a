# Seed row B2, "cosine+EvoNormS0 mask head": B1 + cosine + EvoNorm-S0 mask head (no act).
from mmengine.config import read_base

with read_base():
    from .mask_rcnn_fpn3_evonorm_cosine import *

# `_delete_` drops the BN-only keys (momentum, eps) of the base's mask-head norm.
model.merge(
    dict(roi_head=dict(mask_head=dict(norm_cfg=dict(_delete_=True, **evonorm), act_cfg=None)))
)
