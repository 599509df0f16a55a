# Seed row B3, "P3output+cosine": B1 + cosine, box and mask RoIs pooled from P3 only.
from mmengine.config import read_base

with read_base():
    from .mask_rcnn_fpn3_evonorm_cosine import *

model.merge(
    dict(
        roi_head=dict(
            bbox_roi_extractor=dict(featmap_strides=[8]),
            mask_roi_extractor=dict(featmap_strides=[8]),
        )
    )
)
