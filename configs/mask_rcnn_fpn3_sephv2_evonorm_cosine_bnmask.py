# De-confounding arm: C4 with the mask head back on BN + ReLU; vs C4 isolates the
# mask-head norm, vs mask_rcnn_fpn3_sephv2_bn_cosine.py the box-head norm.
from mmengine.config import read_base

with read_base():
    from .mask_rcnn_fpn3_sephv2_evonorm_cosine import *

model.merge(
    dict(roi_head=dict(mask_head=dict(norm_cfg=roi_bn, act_cfg=dict(_delete_=True, type="ReLU"))))
)
