# Seed row C1, "seph+BN" (the collapsed 0.070 run): B1 with the seph box head (cls and
# reg towers of 4 convs each, no FC) with BN (TF decay 0.997, eps 1e-4) + ReLU.
from mmengine.config import read_base

with read_base():
    from .mask_rcnn_fpn3_evonorm import *

model.merge(
    dict(
        roi_head=dict(
            bbox_head=dict(type="SepHBBoxHead", norm_cfg=roi_bn, act_cfg=dict(type="ReLU"))
        )
    )
)
