# Seed row C2, "seph+cosine+EvoNormS0 box head": B2 (cosine + EvoNorm-S0 mask head) with
# the seph box head on EvoNorm-S0 without activation.
from mmengine.config import read_base

with read_base():
    from .mask_rcnn_fpn3_evonorm_cosine_evomask import *

model.merge(
    dict(roi_head=dict(bbox_head=dict(type="SepHBBoxHead", norm_cfg=evonorm, act_cfg=None)))
)
