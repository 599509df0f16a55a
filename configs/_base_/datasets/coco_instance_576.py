# COCO 2017 instances at the original's scales (SPEC §2.3): train short side drawn from
# {512, 544, 576, 608, 640} with long side <= 800, random flip; test 576 / 1333.
# 4 images per GPU (the seed ran 3 GPUs = 12 images per iteration).
_base_ = "mmdet::_base_/datasets/coco_instance.py"

train_pipeline = [
    dict(type="LoadImageFromFile", backend_args=None),
    dict(type="LoadAnnotations", with_bbox=True, with_mask=True),
    dict(
        type="RandomChoiceResize",
        scales=[(800, 512), (800, 544), (800, 576), (800, 608), (800, 640)],
        keep_ratio=True,
    ),
    dict(type="RandomFlip", prob=0.5),
    dict(type="PackDetInputs"),
]
test_pipeline = [
    dict(type="LoadImageFromFile", backend_args=None),
    dict(type="Resize", scale=(1333, 576), keep_ratio=True),
    dict(type="LoadAnnotations", with_bbox=True, with_mask=True),
    dict(
        type="PackDetInputs",
        meta_keys=("img_id", "img_path", "ori_shape", "img_shape", "scale_factor"),
    ),
]
train_dataloader = dict(
    batch_size=4,
    num_workers=4,
    sampler=dict(type="InfiniteSampler", shuffle=True),
    dataset=dict(pipeline=train_pipeline),
)
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
# mmdet's CocoMetric reporting all 12 COCO numbers per IoU type, as the seed log does.
val_evaluator = dict(type="FullCocoMetric")
test_evaluator = val_evaluator
