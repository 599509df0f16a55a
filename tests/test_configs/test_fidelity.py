"""The rows follow the original where mmdet allows it (docs/original.md).

Each test names the gap it closes; the maths of the pieces is tested with the
pieces (tests/test_models/...), this checks that every row uses them.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from helpers import assert_xavier_uniform
from mmdet.registry import MODELS
from mmengine.config import Config
from mmengine.registry import PARAM_SCHEDULERS

from mmdet_evonorm.models.roi_heads.bbox_heads import Top1PerProposalMixin
from mmdet_evonorm.rows import ROWS
from mmdet_evonorm.testing import build_detector

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
_CACHE: dict[str, Config] = {}


def load(row_id: str) -> Config:
    if row_id not in _CACHE:
        row = next(r for r in ROWS if r.id == row_id)
        _CACHE[row_id] = Config.fromfile(str(CONFIGS / row.config))
    return _CACHE[row_id]


ROW_IDS = [row.id for row in ROWS]


def necks(cfg: Config) -> list:
    return cfg.model.neck if isinstance(cfg.model.neck, list) else [cfg.model.neck]


@pytest.mark.parametrize("row", ROW_IDS)
def test_every_row_follows_the_original_where_mmdet_allows(row):
    model = load(row).model
    rcnn = model.train_cfg.rcnn
    # bilinear, non-binarised mask targets ("Mask head")
    assert rcnn.soft_mask_target is True
    # 16 GT boxes per image, drawn with replacement, added as proposals ("RoI sampling")
    assert rcnn.sampler.type == "GTDrawRandomSampler" and rcnn.sampler.num_gt_proposals == 16
    # ("Inference") top-1-per-proposal inference is available on every row's box head
    assert issubclass(MODELS.get(model.roi_head.bbox_head.type), Top1PerProposalMixin)
    # TF-slim's Xavier-uniform init, also for the RPN ("RoI sampling and initialisation")
    assert model.rpn_head.init_cfg == dict(
        type="Xavier", layer="Conv2d", distribution="uniform", bias=0
    )
    # ("Backbone and FPN") TF "SAME" padding of the FPN convs (the stride-2 P6 conv on even inputs)
    (fpn,) = [n for n in necks(load(row)) if n.type == "FPN"]
    assert fpn.conv_cfg == dict(type="Conv2dAdaptivePadding")
    # the fusion and balance stages resize like TF1's resize_bilinear ("Backbone hooks")
    for stage in necks(load(row)):
        if stage.type in ("FusionStage", "BalanceStage"):
            assert stage.resize_mode == "tf_legacy_bilinear"
    # test-time regression only where a detection can come out (same detections)
    assert model.roi_head.type == "ScoreGatedRoIHead"


def original_lr(t: int, cosine: bool, end: int = 120000, lr0: float = 0.02) -> float:
    """docs/original.md, "Schedule": lr0 * t / 1000 below 1000, then lr0 (piecewise,
    no decay before 80k) or the cosine from lr0 at 1000 to 1e-6 at ``end``."""
    if t < 1000:
        return lr0 * t / 1000
    if not cosine:
        return lr0 if t < 80000 else lr0 * 0.1
    return 1e-6 + 0.5 * (lr0 - 1e-6) * (1 + math.cos(math.pi * (t - 1000) / (end - 1000)))


@pytest.mark.parametrize("row", ["B1", "C4"], ids=["multistep", "cosine"])
def test_warmup_ramps_from_zero_like_the_original(row):
    cfg = load(row)
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([param], lr=cfg.optim_wrapper.optimizer.lr)
    schedulers = [PARAM_SCHEDULERS.build(dict(s, optimizer=optimizer)) for s in cfg.param_scheduler]
    cosine = cfg.param_scheduler[-1]["type"] == "CosineAnnealingLR"
    for t in range(1200):
        assert optimizer.param_groups[0]["lr"] == pytest.approx(
            original_lr(t, cosine), rel=1e-6, abs=1e-9
        ), t
        optimizer.step()
        for scheduler in schedulers:
            scheduler.step()


@pytest.mark.parametrize("row", ["A1", "B1"])
def test_heads_start_xavier_uniform(row):
    """RPN, box predictor (also A1's plain one) and mask head (docs/original.md)."""
    model_cfg = load(row).model
    model_cfg.backbone.init_cfg = None
    torch.manual_seed(0)
    model = build_detector(model_cfg)
    model.init_weights()
    roi = model.roi_head
    mask_convs = [
        m for m in roi.mask_head.modules() if isinstance(m, torch.nn.modules.conv._ConvNd)
    ]
    layers = [model.rpn_head.rpn_conv, model.rpn_head.rpn_cls, model.rpn_head.rpn_reg]
    layers += [roi.bbox_head.fc_cls, roi.bbox_head.fc_reg, *mask_convs]
    assert any(isinstance(m, torch.nn.ConvTranspose2d) for m in mask_convs)
    for layer in layers:
        assert_xavier_uniform(layer)
