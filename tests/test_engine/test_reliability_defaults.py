"""What tools/train.py adds to a config for runs that survive (and what it leaves alone)."""

from __future__ import annotations

import pytest
from mmengine.config import Config

from mmdet_evonorm.checks import BadInputError
from mmdet_evonorm.engine import cli


def _train_cfg(*argv):
    args = cli.train_parser().parse_args([str(a) for a in argv])
    cfg = cli.load_config(args)
    cli.configure_train(cfg, args)
    return cfg


def test_plain_config_gets_atomic_checkpoints_guard_and_seeds(tiny_config):
    cfg = _train_cfg(tiny_config())
    hooks = cfg.default_hooks
    assert hooks.checkpoint == dict(type="AtomicCheckpointHook", by_epoch=False, interval=2)
    assert hooks.non_finite_guard == dict(type="NonFiniteGuardHook", max_skips=0)
    assert hooks.iteration_seed == dict(type="IterationSeedHook")
    assert cfg.optim_wrapper.type == "NonFiniteGuardOptimWrapper"
    assert cfg.optim_wrapper.optimizer.type == "SGD"


def test_user_choices_are_kept(tiny_config):
    config = tiny_config(
        **{
            "default_hooks.non_finite_guard": dict(type="NonFiniteGuardHook", max_skips=5),
            "default_hooks.iteration_seed": None,
        }
    )
    cfg = _train_cfg(config, "--cfg-options", "default_hooks.checkpoint.max_keep_ckpts=4")
    assert cfg.default_hooks.non_finite_guard.max_skips == 5
    assert "iteration_seed" not in cfg.default_hooks  # None: left out (mmengine rejects None)
    assert cfg.default_hooks.checkpoint.max_keep_ckpts == 4
    amp = _train_cfg(tiny_config("amp.py", **{"optim_wrapper.type": "AmpOptimWrapper"}))
    assert amp.optim_wrapper.type == "AmpOptimWrapper"  # GradScaler skips bad steps itself


def test_missing_checkpoint_entry_becomes_mmengines_default_made_atomic():
    cfg = Config(dict(default_hooks=dict(), optim_wrapper=dict(optimizer=dict(type="SGD"))))
    cli.use_reliability_defaults(cfg)
    assert cfg.default_hooks.checkpoint == dict(type="AtomicCheckpointHook", interval=1)
    assert cfg.optim_wrapper.type == "NonFiniteGuardOptimWrapper"


def test_recipe_runtime_already_has_them():
    cfg = Config.fromfile("configs/mask_rcnn_fpn3_evonorm.py")
    hooks = cfg.default_hooks
    assert hooks.checkpoint.type == "AtomicCheckpointHook"
    assert (hooks.checkpoint.interval, hooks.checkpoint.max_keep_ckpts) == (5000, 3)
    assert hooks.non_finite_guard.type == "NonFiniteGuardHook"
    assert hooks.iteration_seed.type == "IterationSeedHook"


def test_max_skips_needs_the_guard_wrapper(tiny_config):
    config = tiny_config(
        **{
            "default_hooks.non_finite_guard": dict(type="NonFiniteGuardHook", max_skips=3),
            "optim_wrapper.type": "AmpOptimWrapper",
        }
    )
    with pytest.raises(BadInputError, match=r"max_skips=3 needs optim_wrapper.type="):
        _train_cfg(config)
