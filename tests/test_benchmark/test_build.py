"""mmdet_evonorm.benchmark.build: modules built with this package registered, seeded."""

from __future__ import annotations

import torch

from mmdet_evonorm.benchmark.build import build_module


def test_builds_this_packages_modules_seeded_and_lists_as_sequential():
    cfg = dict(type="BalanceStage", in_channels=32)
    first, second = build_module(cfg), build_module(cfg)
    for a, b in zip(first.parameters(), second.parameters(), strict=True):
        assert torch.equal(a, b)  # same seed, same weights
    other = build_module(cfg, seed=1)
    assert any(
        not torch.equal(a, b) for a, b in zip(first.parameters(), other.parameters(), strict=True)
    )
    stages = build_module([dict(type="EvoNormS0", num_features=32), dict(type="ReLU")])
    assert [type(m).__name__ for m in stages] == ["EvoNormS0", "ReLU"]
    assert cfg == dict(type="BalanceStage", in_channels=32)  # the config is left as it was
