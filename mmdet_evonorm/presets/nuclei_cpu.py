"""The CPU sizing of a row on the embedded nuclei set (``make quickstart``, ``ablate.py``).

Applied on top of any row's loaded config, it changes only what the size of the data
and of the machine need, so the contrast between two sized rows is exactly the
rows' own difference (box head, norms, schedule shape, ...):

* ResNet-18 from scratch (no pretrained weights offline; BN statistics trained),
  FPN and head widths 64, 256-wide box-head FCs, one class;
* nuclei are 10-39 px long (median 29), so the tiles are upscaled 2x and anchors
  start at 32 px on P3 (``scales=[4]``); 300 proposals per image;
* batch 4, no loader workers, SGD lr 0.02 with global-norm clip 10, logging every
  10 iterations, one checkpoint kept.

The LR schedule is *not* part of the sizing: the ablation keeps each row's own
(scaled with :func:`~.schedule.schedule_options`), the quickstart config states its
own. Data: ``docs/quickstart.md``; the K-fold sets: ``datasets/nuclei.py``.
"""

from __future__ import annotations

from mmengine.config import Config

WIDTH = 64
METAINFO = dict(classes=("nucleus",), palette=[(0, 255, 0)])
UPSCALE = dict(type="Resize", scale_factor=2.0, keep_ratio=True)
TRAIN_PIPELINE = [
    dict(type="LoadImageFromFile"),
    dict(type="LoadAnnotations", with_bbox=True, with_mask=True),
    UPSCALE,
    dict(
        type="RandomFlip",
        prob=[0.25, 0.25, 0.25],
        direction=["horizontal", "vertical", "diagonal"],
    ),
    dict(type="PackDetInputs"),
]


def _model(width: int = WIDTH) -> dict:
    return dict(
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


def _loader(data_root: str, split: str, pipeline: list) -> dict:
    dataset = dict(
        data_root=data_root,
        metainfo=METAINFO,
        ann_file=f"annotations/{split}.json",
        data_prefix=dict(img=f"{split}/"),
        pipeline=pipeline,
    )
    if split == "train":
        dataset["filter_cfg"] = dict(filter_empty_gt=True, min_size=0)
        return dict(batch_size=4, num_workers=0, persistent_workers=False, dataset=dataset)
    return dict(num_workers=0, persistent_workers=False, dataset=dataset)


def nuclei_test_pipeline(row_pipeline: list) -> list:
    """The row's test pipeline with its fixed-scale ``Resize`` swapped for the 2x upscaling."""
    return [dict(UPSCALE) if step["type"] == "Resize" else step for step in row_pipeline]


def nuclei_cpu_sizing(row: Config, data_root: str = "data/nuclei/") -> dict:
    """The sizing as a nested dict to merge onto ``row`` (what a child config would say)."""
    data_root = data_root.rstrip("/") + "/"
    test_pipeline = nuclei_test_pipeline(row.test_dataloader.dataset.pipeline)
    evaluator = dict(type="FullCocoMetric", ann_file=data_root + "annotations/val.json")
    val_loader = _loader(data_root, "val", test_pipeline)
    return dict(
        data_root=data_root,
        metainfo=METAINFO,
        train_pipeline=TRAIN_PIPELINE,
        test_pipeline=test_pipeline,
        model=_model(),
        train_dataloader=_loader(data_root, "train", TRAIN_PIPELINE),
        val_dataloader=val_loader,
        test_dataloader=val_loader,
        val_evaluator=evaluator,
        test_evaluator=evaluator,
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


def apply_nuclei_cpu_sizing(row: Config, data_root: str = "data/nuclei/") -> Config:
    """``row`` sized for the CPU and pointed at the nuclei set in ``data_root`` (in place)."""
    row.merge_from_dict(nuclei_cpu_sizing(row, data_root))
    return row


def nuclei_data_options(data_root: str) -> dict:
    """``--cfg-options`` pointing the three dataloaders and two evaluators at ``data_root``."""
    root = data_root.rstrip("/") + "/"
    options = {f"{split}_dataloader.dataset.data_root": root for split in ("train", "val", "test")}
    for split in ("val", "test"):
        options[f"{split}_evaluator.ann_file"] = root + "annotations/val.json"
    return options
