# Seed row C4, "sephv2+cosine+EvoNormS head" (the seed's best row): B2 (cosine +
# EvoNorm-S0 mask head) with the sephv2 box head on EvoNorm-S0 (2-D on the FCs), no act.
from mmengine.config import read_base

with read_base():
    from .mask_rcnn_fpn3_evonorm_cosine_evomask import *

model.merge(
    dict(roi_head=dict(bbox_head=dict(type="SepHV2BBoxHead", norm_cfg=evonorm, act_cfg=None)))
)
