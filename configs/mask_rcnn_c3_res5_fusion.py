# Seed row A3, C3 "use FuseBackbone" (Mask-RCNN-FPN-C3-3.yaml@f42944f, Fusion v1 of
# 911cd7b): Res5 RoI head on F3 (512 channels); the RPN still reads P3-P6.
from mmengine.config import read_base

with read_base():
    from ._base_.recipe_c3_res5 import *

model.merge(
    dict(
        neck=[
            model.neck,
            # TF1 legacy bilinear resizes, as the original
            dict(
                type="FusionStage", in_channels=256, version="v1", resize_mode="tf_legacy_bilinear"
            ),
        ],
        rpn_head=dict(type="RoutedRPNHead", start_level=1),
        roi_head=dict(
            bbox_roi_extractor=dict(out_channels=512),
            shared_head=dict(in_channels=512),
        ),
    )
)
