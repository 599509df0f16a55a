# Seed row C3, "sephv2" with BN: B1 with the sephv2 box head (cls 2 FC, reg 4 convs)
# on BN (TF decay 0.997, eps 1e-4) + ReLU.
from mmengine.config import read_base

with read_base():
    from .mask_rcnn_fpn3_evonorm import *

model.merge(
    dict(
        roi_head=dict(
            bbox_head=dict(type="SepHV2BBoxHead", norm_cfg=roi_bn, act_cfg=dict(type="ReLU"))
        )
    )
)
