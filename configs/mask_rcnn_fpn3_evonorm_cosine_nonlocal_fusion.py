# Seed row B4, "1)": B1 + cosine + NonLocal on C4/C5 before the FPN + Fusion (F3) after it.
# The RPN reads P3-P6; box and mask RoIs are pooled from F3 only (512 channels).
from mmengine.config import read_base

with read_base():
    from .mask_rcnn_fpn3_evonorm_cosine import *

f3_extractor = dict(featmap_strides=[8], out_channels=512)
model.merge(
    dict(
        neck=[
            dict(type="NonLocalStage", in_channels=[512, 1024, 2048]),  # on C4, C5,
            model.neck,
            # TF1 legacy bilinear resizes, as the original
            dict(
                type="FusionStage", in_channels=256, version="v1", resize_mode="tf_legacy_bilinear"
            ),
        ],
        rpn_head=dict(type="RoutedRPNHead", start_level=1),
        roi_head=dict(
            bbox_roi_extractor=f3_extractor,
            bbox_head=dict(in_channels=512),
            mask_roi_extractor=f3_extractor,
            mask_head=dict(in_channels=512),
        ),
    )
)
