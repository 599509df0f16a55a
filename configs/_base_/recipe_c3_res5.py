# The "C3" rows' RoI side (Mask-RCNN-FPN-C3*.yaml; docs/original.md, "Res5 shared head") on top of the recipe:
# RoIs pooled 7x7 from P3 only, a randomly initialised stride-1 Res5 stage (3 bottlenecks,
# 2048 out, BN trainable in train mode) shared by the box predictor (global average pool
# -> FC) and the mask branch (deconv 7 -> 14, no convs), as in mmdet's C4 recipe.
from mmengine.config import read_base

with read_base():
    from .recipe import *

box = model.roi_head.bbox_head
model.merge(
    dict(
        roi_head=dict(
            shared_head=dict(
                type="Res5SharedHead",
                in_channels=256,
                planes=512,  # 2048 out
                # BN with batch statistics, TF decay 0.999 (= momentum 0.001)
                norm_cfg=dict(type="BN", momentum=0.001, eps=1e-5, requires_grad=True),
            ),
            bbox_roi_extractor=dict(featmap_strides=[8]),
            # mmdet's BBoxHead layout (no layers) with this package's Xavier-uniform
            # init and top-1-per-proposal switch
            bbox_head=dict(
                _delete_=True,
                type="NormConvFCBBoxHead",
                with_avg_pool=True,
                roi_feat_size=7,
                in_channels=2048,
                num_classes=box.num_classes,
                bbox_coder=box.bbox_coder,
                reg_class_agnostic=False,
                loss_cls=box.loss_cls,
                loss_bbox=box.loss_bbox,
            ),
            mask_roi_extractor=None,
            mask_head=dict(num_convs=0, in_channels=2048),
        ),
        train_cfg=dict(rcnn=dict(mask_size=14)),
    )
)
