"""Tiny Mask R-CNN configs and inputs, for tests and quick checks (``mmdet.testing`` style).

The tiny model has the layout of this package's recipe (P3-P6 from C3-C5, RPN on
strides 8-64, RoIs pooled from P3-P6 with ``finest_scale=112``) with an R18
backbone and narrow widths, so one loss + predict pass takes well under a second
on a CPU. It starts from mmdet's own Mask R-CNN base config (``mmdet::``), so
only the differences are written here. Assertions and file checks of the test suite
live in ``tests/helpers.py``.
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


# Output widths of ResNet-50's and ResNet-18's stages (C2..C5).
_R50_TO_R18 = {256: 64, 512: 128, 1024: 256, 2048: 512}


_WIDTH_KEYS = ("in_channels", "out_channels", "feat_channels", "conv_out_channels")


def _narrow(cfg, width: int) -> None:
    """Scale the recipe's widths: 256 (FPN, heads), 512 (F3) and 2048 (Res5 output) to
    ``width``, ``2 * width`` and ``2 * width``; Res5 bottleneck planes and FCs follow."""
    scale = {256: width, 512: 2 * width, 2048: 2 * width}
    for key, value in cfg.items():
        if key in _WIDTH_KEYS and isinstance(value, int):
            cfg[key] = scale.get(value, value)
        elif key == "fc_out_channels":
            cfg[key] = 4 * width
        elif key == "planes":
            cfg[key] = width // 2
        elif isinstance(value, dict):
            _narrow(value, width)
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, dict):
                    _narrow(item, width)


def shrink_for_cpu(
    model_cfg: ConfigDict, width: int = 64, num_rois: int = 32, num_proposals: int = 100
) -> ConfigDict:
    """Make any row's model config cheap enough for a CPU test, keeping its structure.

    ResNet-50 becomes a randomly initialised ResNet-18 (neck stages reading backbone
    maps get R18's widths), the FPN/head widths shrink (see ``_narrow``), the RPN
    keeps ``num_proposals`` per image and the RoI sampler ``num_rois``. Module types,
    depths, norms and the feature routing stay as configured.
    """
    model = copy.deepcopy(model_cfg)
    model.backbone.update(depth=18, init_cfg=None)
    necks = model.neck if isinstance(model.neck, list) else [model.neck]
    for neck in necks:
        if isinstance(neck.get("in_channels"), list):  # reads backbone maps
            neck.in_channels = [_R50_TO_R18.get(c, c) for c in neck.in_channels]
        _narrow(neck, width)
    for part in (model.rpn_head, model.roi_head):
        _narrow(part, width)
    model.train_cfg.rcnn.sampler.num = num_rois
    model.train_cfg.rpn_proposal.update(nms_pre=num_proposals * 2, max_per_img=num_proposals)
    model.test_cfg.rpn.update(nms_pre=num_proposals * 2, max_per_img=num_proposals)
    return model
