# Seed row A1, C3 "base line(1)" (Mask-RCNN-FPN-C3.yaml@3929468): Res5 RoI head on P3,
# anchors 120/240/480/512, mask head with 4 convs, test thresholds 0.3 / NMS 0.15 and
# RPN test top-k 3000 / 512 as committed.
from mmengine.config import read_base

with read_base():
    from ._base_.recipe_c3_res5 import *

model.merge(
    dict(
        rpn_head=dict(anchor_generator=dict(scales=[1], base_sizes=[120, 240, 480, 512])),
        roi_head=dict(mask_head=dict(num_convs=4)),
        test_cfg=dict(
            rpn=dict(nms_pre=3000, max_per_img=512),
            rcnn=dict(score_thr=0.3, nms=dict(iou_threshold=0.15)),
        ),
    )
)
