"""Every row config parses, builds, trains one step and predicts on CPU (shrunk to R18)."""

from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper

from mmdet_evonorm.models.layers import EvoNormS0
from mmdet_evonorm.rows import ROWS as SEED_ROWS
from mmdet_evonorm.testing import build_detector, demo_batch, shrink_for_cpu

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
ROWS = {row.id: row.config for row in SEED_ROWS}
COSINE = {"B2", "B3", "B4", "B5", "B6", "C2", "C4", "B1-cosine", "C3-cosine", "C4-bnmask"}


def load(row: str) -> Config:
    return Config.fromfile(str(CONFIGS / ROWS[row]))


def test_every_config_file_is_a_row():
    assert sorted(p.name for p in CONFIGS.glob("*.py")) == sorted(ROWS.values())


def test_readme_table_names_every_row_config():
    readme = (CONFIGS / "README.md").read_text()
    for name in ROWS.values():
        assert f"]({name})" in readme


@pytest.mark.parametrize("row", sorted(ROWS))
def test_schedule(row):
    cfg = load(row)
    kinds = [s["type"] for s in cfg.param_scheduler]
    assert kinds == ["LinearLR", "CosineAnnealingLR" if row in COSINE else "MultiStepLR"]
    iters = 240000 if row == "B5" else 120000
    assert cfg.train_cfg.max_iters == iters == cfg.param_scheduler[-1]["end"]
    assert cfg.optim_wrapper.paramwise_cfg.custom_keys["evonorm"]["decay_mult"] == 0
    assert cfg.custom_imports.imports == ["mmdet_evonorm"]


@pytest.mark.parametrize("row", sorted(ROWS))
def test_one_training_step_and_predict(row):
    torch.manual_seed(0)
    cfg = load(row)
    model = build_detector(shrink_for_cpu(cfg.model))
    optim = build_optim_wrapper(model, cfg.optim_wrapper)
    _assert_no_decay_on_evonorm(model, optim)
    batch = demo_batch(num_classes=80)
    model.train()
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    losses = model.train_step(batch, optim)
    assert all(torch.isfinite(torch.as_tensor(v)).all() for v in losses.values())
    changed = [n for n, p in model.named_parameters() if not torch.equal(before[n], p)]
    assert any("roi_head" in n for n in changed) and any("neck" in n for n in changed)
    model.eval()
    with torch.no_grad():
        results = model.val_step(batch)
    assert len(results) == 2
    for res in results:
        assert {"bboxes", "scores", "labels", "masks"} <= set(res.pred_instances.keys())


def _assert_no_decay_on_evonorm(model, optim):
    """Every EvoNorm-S0 parameter sits in a zero-decay group; conv weights keep theirs."""
    decay = {id(p): g["weight_decay"] for g in optim.param_groups for p in g["params"]}
    evonorm = [p for m in model.modules() if isinstance(m, EvoNormS0) for p in m.parameters()]
    assert evonorm and all(decay[id(p)] == 0 for p in evonorm)
    fpn = next(m for m in model.modules() if type(m).__name__ == "FPN")
    assert decay[id(fpn.fpn_convs[0].conv.weight)] == 1e-4


def _built(row):
    """The full-size model of a row (random init; only inspected, never run)."""
    model = load(row).model
    model.backbone.init_cfg = None
    return build_detector(model)


def test_a1_anchors_and_thresholds():
    cfg = load("A1")
    assert cfg.model.rpn_head.anchor_generator.base_sizes == [120, 240, 480, 512]
    assert cfg.model.test_cfg.rcnn.score_thr == 0.3
    assert cfg.model.test_cfg.rcnn.nms.iou_threshold == 0.15
    assert cfg.model.roi_head.mask_head.num_convs == 4


def test_a3_roi_heads_read_f3_with_512_channels():
    model = _built("A3")
    roi = model.roi_head
    assert roi.bbox_roi_extractor.featmap_strides == [8]
    assert roi.bbox_roi_extractor.out_channels == 512
    assert roi.shared_head.res_layer[0].conv1.in_channels == 512
    assert roi.bbox_head.fc_cls.in_features == 2048
    assert roi.mask_roi_extractor is roi.bbox_roi_extractor  # shared res5 features
    assert type(model.rpn_head).__name__ == "RoutedRPNHead" and model.rpn_head.start_level == 1
    assert type(model.neck[-1]).__name__ == "FusionStage"


def test_b4_routes_f3_to_roi_heads_and_nonlocal_before_fpn():
    model = _built("B4")
    assert [type(m).__name__ for m in model.neck] == ["NonLocalStage", "FPN", "FusionStage"]
    assert model.roi_head.bbox_roi_extractor.featmap_strides == [8]
    assert model.roi_head.bbox_head.in_channels == 512
    assert model.roi_head.mask_head.in_channels == 512


def test_b6_balance_follows_fpn():
    model = _built("B6")
    assert [type(m).__name__ for m in model.neck] == ["FPN", "BalanceStage"]


def test_b3_pools_from_p3_only():
    model = _built("B3")
    assert model.roi_head.bbox_roi_extractor.featmap_strides == [8]
    assert model.roi_head.mask_roi_extractor.featmap_strides == [8]


def _follows_evonorm_with_activation(module) -> bool:
    names = list(module._modules.values())
    return any(
        isinstance(a, EvoNormS0) and isinstance(b, torch.nn.ReLU)
        for a, b in zip(names, names[1:], strict=False)
    )


def test_c4_cls_fcs_carry_2d_evonorm_and_no_relu():
    head = _built("C4").roi_head.bbox_head
    norms = [m for m in head.cls_fcs.modules() if isinstance(m, EvoNormS0)]
    assert len(norms) == 2
    assert not any(isinstance(m, torch.nn.ReLU) for m in head.modules())
    x = torch.randn(3, 1024)
    assert norms[0](x).shape == (3, 1024)
    mask_head = _built("C4").roi_head.mask_head
    assert not any(isinstance(m, torch.nn.ReLU) for m in mask_head.modules())


def test_c1_seph_bn_uses_relu():
    head = _built("C1").roi_head.bbox_head
    bns = [m for m in head.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert len(bns) == 8 and all(m.momentum == 0.003 and m.eps == 1e-4 for m in bns)
    assert any(isinstance(m, torch.nn.ReLU) for m in head.modules())
