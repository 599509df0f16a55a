"""The model built up front and handed to the runner: the run ``Runner.from_cfg`` makes."""

from __future__ import annotations

import random

import numpy as np
import torch
from mmengine.config import Config
from mmengine.runner import Runner

from mmdet_evonorm.engine.runner_build import build_model_for_run, build_runner


def _config(tiny_config, name, work_dir) -> Config:
    cfg = Config.fromfile(str(tiny_config(name)))
    cfg.work_dir, cfg.launcher = str(work_dir), "none"
    return cfg


def _state(runner: Runner) -> tuple:
    """Everything a run draws from later: the weights and every random stream."""
    weights = {key: value.clone() for key, value in runner.model.state_dict().items()}
    return weights, torch.get_rng_state(), np.random.get_state()[1].copy(), random.getstate()


def test_same_weights_and_random_streams_as_runner_from_cfg(tiny_config, tmp_path):
    stock = _state(Runner.from_cfg(_config(tiny_config, "stock.py", tmp_path / "stock")))
    cfg = _config(tiny_config, "ours.py", tmp_path / "ours")
    model = build_model_for_run(cfg)
    runner = build_runner(cfg, model)
    assert runner.model is model.module
    ours = _state(runner)
    assert stock[0].keys() == ours[0].keys()
    assert all(torch.equal(stock[0][key], ours[0][key]) for key in stock[0])
    assert torch.equal(stock[1], ours[1]) and np.array_equal(stock[2], ours[2])
    assert stock[3] == ours[3]
    assert runner.cfg.model == cfg.model  # the dumped config keeps the model's dict


def test_a_seed_left_to_chance_is_drawn_once_and_kept(tiny_config, tmp_path):
    cfg = _config(tiny_config, "unseeded.py", tmp_path / "w")
    cfg.randomness = dict(seed=None)
    model = build_model_for_run(cfg)
    assert isinstance(cfg.randomness.seed, int)
    assert build_runner(cfg, model).seed == cfg.randomness.seed
