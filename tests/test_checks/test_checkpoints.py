"""Checkpoints against the model built from the config: which misfits each use tolerates."""

from __future__ import annotations

import pytest
import torch

from mmdet_evonorm.checks import BadInputError
from mmdet_evonorm.checks.checkpoints import check_checkpoint_fits
from mmdet_evonorm.testing import build_detector, get_tiny_mask_rcnn_cfg


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return build_detector(get_tiny_mask_rcnn_cfg(num_classes=3))


def _checkpoint(num_classes=3, prefix="", extra=False):
    torch.manual_seed(0)
    state = build_detector(get_tiny_mask_rcnn_cfg(num_classes=num_classes)).state_dict()
    state = {prefix + key: value for key, value in state.items()}
    if extra:
        state["ema.backbone.conv1.weight"] = torch.zeros(1)
    return {"state_dict": state}


def test_own_checkpoint_fits_every_use_also_with_a_ddp_prefix(model):
    for use in ("resume", "test", "load_from"):
        check_checkpoint_fits(model, _checkpoint(prefix="module."), "own.pth", use)


def test_fine_tuning_to_another_class_count_loads_but_does_not_resume_or_test(model):
    coco = _checkpoint(num_classes=80)
    check_checkpoint_fits(model, coco, "coco.pth", "load_from")  # 6 of 160 keys differ
    for use in ("resume", "test"):
        with pytest.raises(BadInputError) as error:
            check_checkpoint_fits(model, coco, "coco.pth", use)
        message = str(error.value)
        assert message.startswith(f"{use}: coco.pth does not fit the model of this config")
        assert "6 with another shape, e.g. roi_head.bbox_head.fc_cls.weight: (81, 64) in the " in (
            message
        )
        assert "\n" not in message


def test_unexpected_keys_block_resume_only(model):
    extra = _checkpoint(extra=True)
    check_checkpoint_fits(model, extra, "extra.pth", "test")
    with pytest.raises(BadInputError, match="1 unexpected keys, e.g. ema.backbone.conv1.weight"):
        check_checkpoint_fits(model, extra, "extra.pth", "resume")


def test_a_bare_state_dict_missing_most_keys_is_refused_for_load_from(model):
    backbone_only = {k: v for k, v in model.state_dict().items() if k.startswith("backbone.")}
    with pytest.raises(BadInputError, match=r"load_from: .* model keys missing, e.g. neck\."):
        check_checkpoint_fits(model, backbone_only, "backbone.pth", "load_from")
