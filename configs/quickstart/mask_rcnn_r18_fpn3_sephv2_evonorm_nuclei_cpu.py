# `make quickstart`: seed row C4, the seed's best (sephv2 box head + cosine + EvoNorm-S0
# box and mask heads, FPN P3-P6 with EvoNorm-S0, GIoU RPN), sized for 2 CPU cores and
# trained from scratch on the embedded nuclei set (tools/build_nuclei_dataset.py;
# docs/quickstart.md).
#
# Everything below is a CPU-sizing of whichever row the `read_base()` block imports, so
# a CPU variant of another row is this file with another import, e.g. the baseline B1:
#   from ..mask_rcnn_fpn3_evonorm import *
from mmengine.config import read_base

with read_base():
    from ..mask_rcnn_fpn3_sephv2_evonorm_cosine import *

width = 64
data_root = "data/nuclei/"
metainfo = dict(classes=("nucleus",), palette=[(0, 255, 0)])
max_iters = 400

# R18 from scratch (no pretrained weights offline; BN statistics trained), widths 64.
# Nuclei are 10-39 px long (median 29); tiles are upscaled 2x, anchors start at 32 px on P3.
model.merge(
    dict(
        backbone=dict(depth=18, norm_eval=False, init_cfg=None),
        neck=dict(in_channels=[128, 256, 512], out_channels=width),
        rpn_head=dict(in_channels=width, feat_channels=width, anchor_generator=dict(scales=[4])),
        roi_head=dict(
            bbox_roi_extractor=dict(out_channels=width),
            bbox_head=dict(
                in_channels=width, conv_out_channels=width, fc_out_channels=256, num_classes=1
            ),
            mask_roi_extractor=dict(out_channels=width),
            mask_head=dict(in_channels=width, conv_out_channels=width, num_classes=1),
        ),
        train_cfg=dict(rpn_proposal=dict(nms_pre=1000, max_per_img=300)),
        test_cfg=dict(rpn=dict(nms_pre=1000, max_per_img=300)),
    )
)

# 12 training tiles of 128 px and one 256 px validation image, upscaled 2x.
train_pipeline = [
    dict(type="LoadImageFromFile"),
    dict(type="LoadAnnotations", with_bbox=True, with_mask=True),
    dict(type="Resize", scale_factor=2.0, keep_ratio=True),
    dict(
        type="RandomFlip",
        prob=[0.25, 0.25, 0.25],
        direction=["horizontal", "vertical", "diagonal"],
    ),
    dict(type="PackDetInputs"),
]
# the row's test pipeline with its fixed-scale Resize swapped for the 2x upscaling
test_pipeline = [
    dict(type="Resize", scale_factor=2.0, keep_ratio=True) if step["type"] == "Resize" else step
    for step in test_pipeline
]
train_dataloader.merge(
    dict(
        batch_size=4,
        num_workers=0,
        persistent_workers=False,
        dataset=dict(
            data_root=data_root,
            metainfo=metainfo,
            ann_file="annotations/train.json",
            data_prefix=dict(img="train/"),
            filter_cfg=dict(filter_empty_gt=True, min_size=0),
            pipeline=train_pipeline,
        ),
    )
)
val_dataloader.merge(
    dict(
        num_workers=0,
        persistent_workers=False,
        dataset=dict(
            data_root=data_root,
            metainfo=metainfo,
            ann_file="annotations/val.json",
            data_prefix=dict(img="val/"),
            pipeline=test_pipeline,
        ),
    )
)
test_dataloader = val_dataloader
# All 12 COCO numbers per IoU type (mmdet_evonorm.evaluation.FullCocoMetric).
val_evaluator.merge(dict(type="FullCocoMetric", ann_file=data_root + "annotations/val.json"))
test_evaluator = val_evaluator

train_cfg.merge(dict(max_iters=max_iters, val_interval=max_iters))
optim_wrapper.merge(dict(optimizer=dict(lr=0.02), clip_grad=dict(max_norm=10)))
param_scheduler = [
    dict(type="LinearLR", start_factor=0.01, by_epoch=False, begin=0, end=50),
    dict(type="CosineAnnealingLR", by_epoch=False, begin=50, end=max_iters, eta_min=1e-4),
]
auto_scale_lr.base_batch_size = 4
default_hooks.merge(
    dict(
        logger=dict(interval=10),
        checkpoint=dict(interval=max_iters, max_keep_ckpts=1),
        visualization=dict(score_thr=0.5),
    )
)
log_processor.window_size = 10
randomness = dict(seed=0)
