"""How tool arguments shape the config: mmdet 3.3.0 semantics plus the safe-checkpoint hook."""

from __future__ import annotations

import torch

from mmdet_evonorm.engine import cli


def _train_cfg(*argv):
    args = cli.train_parser().parse_args([str(a) for a in argv])
    cfg = cli.load_config(args)
    cli.configure_train(cfg, args)
    return cfg


def _test_cfg(*argv):
    args = cli.test_parser().parse_args([str(a) for a in argv])
    cfg = cli.load_config(args)
    cli.configure_test(cfg, args)
    return cfg


def test_work_dir_priority_and_cfg_options(tiny_config, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = tiny_config("my_run.py")
    assert _train_cfg(config).work_dir == "./work_dirs/my_run"
    assert _train_cfg(config, "--work-dir", "elsewhere").work_dir == "elsewhere"
    cfg = _train_cfg(config, "--cfg-options", "train_cfg.max_iters=7", "work_dir=from_options")
    assert cfg.train_cfg.max_iters == 7 and cfg.work_dir == "from_options"


def test_safe_checkpoint_hook_added_once(tiny_config):
    assert [h["type"] for h in _train_cfg(tiny_config()).custom_hooks] == ["SafeCheckpointHook"]
    config = tiny_config(
        custom_hooks=[dict(type="EMAHook"), dict(type="SafeCheckpointHook", priority="LOW")]
    )
    hooks = _train_cfg(config).custom_hooks
    assert [h["type"] for h in hooks] == ["EMAHook", "SafeCheckpointHook"]
    assert hooks[1]["priority"] == "LOW"


def test_resume_auto_and_path(tiny_config, tmp_path):
    cfg = _train_cfg(tiny_config(), "--resume", "--work-dir", tmp_path / "empty")
    assert cfg.resume is True and cfg.load_from is None
    ckpt = tmp_path / "iter_2.pth"
    torch.save({"state_dict": {}}, ckpt)
    cfg = _train_cfg(tiny_config(), "--resume", ckpt)
    assert cfg.resume is True and cfg.load_from == str(ckpt)


def test_show_dir_and_tta(tiny_config, tmp_path):
    ckpt = tmp_path / "weights.pth"
    torch.save({"state_dict": {}}, ckpt)
    cfg = _test_cfg(tiny_config(), ckpt, "--show-dir", "pictures", "--tta")
    assert cfg.load_from == str(ckpt)
    visualization = cfg.default_hooks.visualization
    assert visualization.draw is True and visualization.test_out_dir == "pictures"
    assert cfg.model.type == "DetTTAModel" and cfg.model.module.type == "MaskRCNN"
    pipeline = cfg.test_dataloader.dataset.pipeline
    assert pipeline[0].type == "LoadImageFromFile"
    assert pipeline[-1].type == "TestTimeAug"
    assert [t.prob for t in pipeline[-1].transforms[0]] == [1.0, 0.0]
