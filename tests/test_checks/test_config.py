"""Registered ``type`` names: every section the runner builds, none where no registry is read."""

from __future__ import annotations

import pytest
from mmengine.config import Config

import mmdet_evonorm  # noqa: F401  (registers the package's modules)
from mmdet_evonorm.checks import BadInputError
from mmdet_evonorm.checks.config import check_types


def _config(metric: str = "CocoMetric", hook: str = "IterTimerHook") -> Config:
    albu = dict(type="Albu", transforms=[dict(type="OneOf", transforms=[dict(type="RGBShift")])])
    return Config(
        dict(
            default_scope="mmdet",
            train_dataloader=dict(dataset=dict(type="CocoDataset", pipeline=[albu])),
            default_hooks=dict(timer=dict(type=hook)),
            val_evaluator=dict(type="Evaluator", metrics=[dict(type=metric)]),
            model=dict(type="MaskRCNN", neck=dict(type="FPG", same_up_trans=dict(type="conv"))),
        )
    )


def test_names_read_without_a_registry_pass():
    check_types(_config())  # albumentations' RGBShift, FPG's 'conv' (the model is built instead)


@pytest.mark.parametrize(
    "cfg, expected",
    [
        (
            _config(metric="CocoMetrics"),
            "val_evaluator.metrics[0].type='CocoMetrics' is not in the mmdet::metric registry",
        ),
        (
            _config(hook="IterTimer"),
            "default_hooks.timer.type='IterTimer' is not in the mmdet::hook registry",
        ),
    ],
)
def test_an_unknown_name_is_one_line_naming_the_field(cfg, expected):
    with pytest.raises(BadInputError) as error:
        check_types(cfg)
    assert str(error.value).startswith(expected) and "custom_imports" in str(error.value)
