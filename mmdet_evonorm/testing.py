"""Tiny Mask R-CNN configs and inputs shared by the tests.

The tiny model has the layout of this package's recipe (P3-P6 from C3-C5, RPN on
strides 8-64, RoIs pooled from P3-P6 with ``finest_scale=112``) with an R18
backbone and narrow widths, so one loss + predict pass takes well under a second
on a CPU. It starts from mmdet's own Mask R-CNN base config (``mmdet::``), so
only the differences are written here.
"""

from __future__ import annotations

import copy

import torch
from mmengine.config import ConfigDict
from mmengine.hub import get_config

WIDTH = 32  # FPN / head width of the tiny model
STRIDES = [8, 16, 32, 64]


def get_tiny_mask_rcnn_cfg(num_classes: int = 3, width: int = WIDTH) -> ConfigDict:
    """Return the model config of a tiny R18 P3-P6 Mask R-CNN (random init)."""
    model = copy.deepcopy(get_config("mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py").model)
    model.backbone.update(depth=18, out_indices=(1, 2, 3), frozen_stages=-1, init_cfg=None)
    model.neck.update(
        in_channels=[128, 256, 512], out_channels=width, num_outs=4, add_extra_convs="on_input"
    )
    model.rpn_head.update(in_channels=width, feat_channels=width)
    model.rpn_head.anchor_generator.strides = STRIDES
    roi = model.roi_head
    for extractor in (roi.bbox_roi_extractor, roi.mask_roi_extractor):
        extractor.update(out_channels=width, featmap_strides=STRIDES, finest_scale=112)
    roi.bbox_head.update(in_channels=width, fc_out_channels=64, num_classes=num_classes)
    roi.mask_head.update(in_channels=width, conv_out_channels=width, num_classes=num_classes)
    model.train_cfg.rcnn.sampler.num = 64
    model.test_cfg.rpn.update(nms_pre=200, max_per_img=100)
    return model


def demo_batch(
    batch_size: int = 2,
    image_shapes: list[tuple[int, int, int]] | None = None,
    num_items: list[int] | None = None,
    num_classes: int = 3,
) -> dict:
    """A batch of random images with boxes and masks (``mmdet.testing.demo_mm_inputs``)."""
    from mmdet.testing import demo_mm_inputs

    shapes = image_shapes or [(3, 128, 128), (3, 112, 136)][:batch_size]
    return demo_mm_inputs(
        batch_size=batch_size,
        image_shapes=shapes,
        num_items=num_items,
        num_classes=num_classes,
        with_mask=True,
    )


def build_detector(model_cfg: ConfigDict) -> torch.nn.Module:
    """Build a detector in mmdet's scope with this package registered."""
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules

    import mmdet_evonorm  # noqa: F401

    register_all_modules()
    return MODELS.build(copy.deepcopy(model_cfg))


def run_loss_and_predict(model: torch.nn.Module, batch: dict | None = None):
    """One ``loss`` and one ``predict`` pass; returns ``(losses, predictions)``."""
    batch = batch or demo_batch()
    model.train()
    data = model.data_preprocessor(batch, True)
    losses = model(**data, mode="loss")
    model.eval()
    with torch.no_grad():
        data = model.data_preprocessor(batch, False)
        predictions = model(**data, mode="predict")
    return losses, predictions
