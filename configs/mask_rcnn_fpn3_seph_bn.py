# Seed row C1, "seph+BN" (the collapsed 0.070 run): B1 with the seph box head (cls and
# reg towers of 4 convs each, no FC) with BN (TF decay 0.997, eps 1e-4) + ReLU.
_base_ = "./mask_rcnn_fpn3_evonorm.py"

model = dict(
    roi_head=dict(
        bbox_head=dict(type="SepHBBoxHead", norm_cfg=_base_.roi_bn, act_cfg=dict(type="ReLU"))
    )
)
