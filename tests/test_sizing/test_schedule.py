"""Schedule scaling: every phase scaled alike, short warm-ups still ramp, COCO 0.1 = 12k."""

from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.optim.scheduler import CosineAnnealingLR, LinearLR, MultiStepLR

from mmdet_evonorm.sizing import scaled_max_iters, schedule_options, train_subset_options

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
B1 = CONFIGS / "mask_rcnn_fpn3_evonorm.py"
C4 = CONFIGS / "mask_rcnn_fpn3_sephv2_evonorm_cosine.py"
QUICKSTART = CONFIGS / "quickstart" / "mask_rcnn_r18_fpn3_sephv2_evonorm_nuclei_cpu.py"
SCHEDULERS = {
    "LinearLR": LinearLR,
    "MultiStepLR": MultiStepLR,
    "CosineAnnealingLR": CosineAnnealingLR,
}


def _scaled(path: Path, max_iters: int) -> Config:
    cfg = Config.fromfile(str(path))
    cfg.merge_from_dict(schedule_options(cfg, max_iters))
    return cfg


def _lrs(cfg: Config) -> list[float]:
    """The LR of every iteration, stepped by mmengine's own schedulers."""
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([param], lr=cfg.optim_wrapper.optimizer.lr)
    schedulers = [
        SCHEDULERS[s.type](optimizer, **{k: v for k, v in s.items() if k != "type"})
        for s in cfg.param_scheduler
    ]
    lrs = []
    for _ in range(cfg.train_cfg.max_iters):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        for scheduler in schedulers:
            scheduler.step()
    return lrs


@pytest.mark.parametrize("max_iters", [20, 400])
def test_multistep_row_keeps_its_shape(max_iters):
    cfg = _scaled(B1, max_iters)
    warmup, multistep = cfg.param_scheduler
    assert warmup.type == "LinearLR" and multistep.type == "MultiStepLR"
    assert multistep.milestones == [round(max_iters * 2 / 3), round(max_iters * 5 / 6)]
    assert multistep.end == cfg.train_cfg.max_iters == cfg.default_hooks.checkpoint.interval
    lrs = _lrs(cfg)
    assert max(lrs) == pytest.approx(0.02)  # the warm-up reaches the row's LR ...
    assert lrs[warmup.end] == pytest.approx(0.02)  # ... by its (scaled) end
    assert lrs[-1] == pytest.approx(0.02 * 0.01)  # both x0.1 steps happened


def test_one_iteration_warmup_is_not_left_at_its_start_factor():
    """mmengine's LinearLR over 1 iteration never ramps: the scaling keeps 2 at least."""
    cfg = _scaled(B1, 20)  # 1000 / 120000 * 20 rounds to 0
    assert cfg.param_scheduler[0].end == 2
    assert _lrs(cfg)[2] == pytest.approx(0.02)


@pytest.mark.parametrize("max_iters", [20, 400])
def test_cosine_row_decays_after_its_warmup(max_iters):
    cfg = _scaled(C4, max_iters)
    warmup, cosine = cfg.param_scheduler
    assert cosine.type == "CosineAnnealingLR" and cosine.begin <= warmup.end
    assert cosine.end == max_iters
    lrs = _lrs(cfg)
    assert max(lrs) == pytest.approx(0.02, rel=0.05)
    assert lrs[-1] < 0.02 * 0.01 and all(a >= b for a, b in zip(lrs[3:], lrs[4:], strict=False))


def test_coco_schedule_scale():
    cfg = Config.fromfile(str(B1))
    assert scaled_max_iters(cfg, 0.1) == 12000
    options = schedule_options(cfg, 12000)
    assert options["param_scheduler.0.end"] == 100
    assert options["param_scheduler.1.milestones"] == [8000, 10000]
    assert scaled_max_iters(cfg, 1.0) == 120000


def test_full_length_changes_nothing():
    cfg = Config.fromfile(str(C4))
    before = cfg.to_dict()["param_scheduler"]
    cfg.merge_from_dict(schedule_options(cfg, cfg.train_cfg.max_iters))
    assert cfg.to_dict()["param_scheduler"] == before


def test_train_subset_reaches_the_innermost_dataset():
    plain = Config(dict(train_dataloader=dict(dataset=dict(type="CocoDataset"))))
    assert train_subset_options(plain, 100) == {"train_dataloader.dataset.indices": 100}
    wrapped = Config(
        dict(train_dataloader=dict(dataset=dict(type="RepeatDataset", dataset=dict(type="C"))))
    )
    wrapped.merge_from_dict(train_subset_options(wrapped, 7))
    assert wrapped.train_dataloader.dataset.dataset.indices == 7
    assert "indices" not in wrapped.train_dataloader.dataset


def test_quickstart_schedule_scales_every_phase():
    cfg = Config.fromfile(QUICKSTART)
    full, warmup_end = cfg.train_cfg.max_iters, cfg.param_scheduler[0].end
    half = cfg.copy()
    half.merge_from_dict(schedule_options(cfg, full // 2))
    assert half.train_cfg.max_iters == half.default_hooks.checkpoint.interval == full // 2
    assert half.param_scheduler[0].end == round(warmup_end / 2)
    assert half.param_scheduler[-1].end == full // 2

    cfg.merge_from_dict(schedule_options(cfg, 2))
    assert all(s.end > s.begin >= 0 for s in cfg.param_scheduler)
    assert cfg.param_scheduler[-1].end == cfg.train_cfg.max_iters == 2
