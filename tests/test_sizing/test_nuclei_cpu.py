"""The nuclei CPU sizing: the quickstart's C4, and nothing but each row's own difference."""

from pathlib import Path

import pytest
from mmengine.config import Config

from mmdet_evonorm.sizing import apply_nuclei_cpu_sizing, schedule_options

REPO = Path(__file__).resolve().parents[2]
CONFIGS = REPO / "configs"
QUICKSTART = CONFIGS / "quickstart" / "mask_rcnn_r18_fpn3_sephv2_evonorm_nuclei_cpu.py"
ROW = {
    "B1": "mask_rcnn_fpn3_evonorm.py",
    "C1": "mask_rcnn_fpn3_seph_bn.py",
    "C2": "mask_rcnn_fpn3_seph_evonorm_cosine.py",
    "C3": "mask_rcnn_fpn3_sephv2_bn.py",
    "C4": "mask_rcnn_fpn3_sephv2_evonorm_cosine.py",
}
#: What a training run reads (the top-level helper variables of a file are not used).
SECTIONS = (
    "model",
    "train_dataloader",
    "val_dataloader",
    "test_dataloader",
    "val_evaluator",
    "test_evaluator",
    "optim_wrapper",
    "param_scheduler",
    "train_cfg",
    "default_hooks",
    "custom_hooks",
    "auto_scale_lr",
    "log_processor",
    "randomness",
)


def _sized(row: str, data_root: str = "data/nuclei/", max_iters: int | None = None) -> dict:
    cfg = apply_nuclei_cpu_sizing(Config.fromfile(str(CONFIGS / ROW[row])), data_root)
    if max_iters:
        cfg.merge_from_dict(schedule_options(cfg, max_iters))
    return {key: cfg.to_dict().get(key) for key in SECTIONS}


def _leaves(value, path=()) -> dict:
    if isinstance(value, dict):
        return {k: v for key, item in value.items() for k, v in _leaves(item, (*path, key)).items()}
    return {path: value}


def _differing(a: dict, b: dict) -> set:
    la, lb = _leaves(a), _leaves(b)
    return {p for p in la.keys() | lb.keys() if la.get(p, "<absent>") != lb.get(p, "<absent>")}


def test_sized_c4_is_the_quickstart_config():
    """The quickstart config is C4 with this sizing, 400 iterations and its own LR shape."""
    quickstart = Config.fromfile(str(QUICKSTART)).to_dict()
    sized = _sized("C4", max_iters=400)
    assert {k: v for k, v in sized.items() if k != "param_scheduler"} == {
        k: quickstart.get(k) for k in SECTIONS if k != "param_scheduler"
    }


@pytest.mark.parametrize("pair", [("B1", "C1"), ("B1", "C3"), ("B1", "C2"), ("C2", "C4")])
def test_sizing_adds_no_difference_between_rows(pair):
    raw = [Config.fromfile(str(CONFIGS / ROW[r])).to_dict() for r in pair]
    raw = [{k: cfg.get(k) for k in SECTIONS} for cfg in raw]
    sized = [_sized(r) for r in pair]
    sized_diff, raw_diff = _differing(*sized), _differing(*raw)
    assert sized_diff and sized_diff <= raw_diff
    types = {p for p in sized_diff if p[-1] == "type"}
    assert types == {p for p in raw_diff if p[-1] == "type"}  # the swapped modules


def test_row_keeps_its_own_schedule():
    for row, shape in (("B1", "MultiStepLR"), ("C4", "CosineAnnealingLR")):
        own = Config.fromfile(str(CONFIGS / ROW[row])).param_scheduler
        cfg = apply_nuclei_cpu_sizing(Config.fromfile(str(CONFIGS / ROW[row])))
        cfg.merge_from_dict(schedule_options(cfg, 400))
        assert [s.type for s in cfg.param_scheduler] == ["LinearLR", shape]
        warmup = cfg.param_scheduler[0]  # the row's warm-up, scaled
        assert warmup.start_factor == own[0].start_factor
        assert warmup.end == max(round(own[0].end * 400 / 120000), 2)


def test_sizing_points_every_loader_at_the_data_root():
    sized = _sized("B1", "/d/fold_2")
    for split in ("train", "val", "test"):
        assert sized[f"{split}_dataloader"]["dataset"]["data_root"] == "/d/fold_2/"
    assert sized["test_evaluator"]["ann_file"] == "/d/fold_2/annotations/val.json"
    assert sized["model"]["backbone"]["depth"] == 18
    resize = [s for s in sized["test_dataloader"]["dataset"]["pipeline"] if s["type"] == "Resize"]
    assert resize == [dict(type="Resize", scale_factor=2.0, keep_ratio=True)]
