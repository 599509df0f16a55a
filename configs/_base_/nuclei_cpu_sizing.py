# The CPU sizing of any row on the embedded nuclei set (docs/quickstart.md), applied by
# one function, mmdet_evonorm/sizing/nuclei_cpu.py: to C4 by the quickstart config
# (configs/quickstart/) and to every row by `tools/ablate.py --preset nuclei`.
# Not a runnable config: each section of `nuclei_cpu` is merged onto the row's, the row's
# test pipeline gets `upscale` for its Resize, and the LR schedule is left to the caller.
width = 64
data_root = "data/nuclei/"
metainfo = dict(classes=("nucleus",), palette=[(0, 255, 0)])
# 12 training tiles of 128 px and one 256 px validation image, upscaled 2x.
upscale = dict(type="Resize", scale_factor=2.0, keep_ratio=True)
train_pipeline = [
    dict(type="LoadImageFromFile"),
    dict(type="LoadAnnotations", with_bbox=True, with_mask=True),
    upscale,
    dict(
        type="RandomFlip",
        prob=[0.25, 0.25, 0.25],
        direction=["horizontal", "vertical", "diagonal"],
    ),
    dict(type="PackDetInputs"),
]
nuclei_cpu = dict(
    data_root=data_root,
    metainfo=metainfo,
    # R18 from scratch (no pretrained weights offline; BN statistics trained), widths 64.
    # Nuclei are 10-39 px long (median 29); tiles are upscaled 2x, anchors start at 32 px.
    model=dict(
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
    ),
    train_pipeline=train_pipeline,
    train_dataloader=dict(
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
    ),
    # the pipeline is the row's test pipeline with `upscale` (set by the caller)
    val_dataloader=dict(
        num_workers=0,
        persistent_workers=False,
        dataset=dict(
            data_root=data_root,
            metainfo=metainfo,
            ann_file="annotations/val.json",
            data_prefix=dict(img="val/"),
        ),
    ),
    # All 12 COCO numbers per IoU type (mmdet_evonorm.evaluation.FullCocoMetric).
    val_evaluator=dict(type="FullCocoMetric", ann_file=data_root + "annotations/val.json"),
    optim_wrapper=dict(optimizer=dict(lr=0.02), clip_grad=dict(max_norm=10)),
    auto_scale_lr=dict(base_batch_size=4),
    default_hooks=dict(
        logger=dict(interval=10),
        checkpoint=dict(max_keep_ckpts=1),
        visualization=dict(score_thr=0.5),
    ),
    log_processor=dict(window_size=10),
    randomness=dict(seed=0),
)
