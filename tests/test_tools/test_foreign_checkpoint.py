"""A foreign checkpoint: refused by tools/test.py, converted deliberately, then tested.

A checkpoint as plain mmengine writes it (HistoryBuffer and NumPy objects
pickled) does not load with ``torch.load(weights_only=True)``; tools/test.py
says so in one line and points to tools/convert_checkpoint.py, whose output it
then evaluates.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from helpers import single_error_line
from mmengine.logging import HistoryBuffer


def _foreign_checkpoint(path):
    """A checkpoint as plain mmengine writes it: HistoryBuffer and NumPy objects pickled."""
    from mmdet_evonorm.data_builders.synthetic import CLASSES
    from mmdet_evonorm.testing import build_detector, get_tiny_mask_rcnn_cfg

    torch.manual_seed(0)
    model = build_detector(get_tiny_mask_rcnn_cfg(num_classes=len(CLASSES)))
    hub = dict(
        log_scalars={"train/loss": HistoryBuffer([2.0, 1.5], [1, 1])},
        runtime_info={"iter": 2, "best": np.float32(0.5)},
        resumed_keys={"train/loss": True, "iter": True, "best": True},
    )
    meta = dict(iter=2, epoch=0, dataset_meta=dict(classes=CLASSES))
    torch.save(dict(meta=meta, state_dict=model.state_dict(), message_hub=hub), path)
    return model.state_dict()


@pytest.mark.slow
def test_foreign_checkpoint_refused_then_converted_then_tested(tool, tiny_config, tmp_path):
    config = tiny_config()
    foreign, converted = tmp_path / "foreign.pth", tmp_path / "converted.pth"
    weights = _foreign_checkpoint(foreign)

    run = tool("tools/test.py", config, foreign, "--work-dir", tmp_path / "refused")
    assert run.returncode == 2
    line = single_error_line(run.stderr)
    assert "HistoryBuffer" in line and f"tools/convert_checkpoint.py {foreign} OUT.pth" in line
    assert not (tmp_path / "refused").exists()

    run = tool("tools/convert_checkpoint.py", foreign, converted)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "weights_only=False" in run.stderr and "trust" in run.stderr
    loaded = torch.load(converted, weights_only=True)
    assert loaded.keys() == {"meta", "state_dict", "message_hub"}
    assert all(torch.equal(loaded["state_dict"][key], value) for key, value in weights.items())

    run = tool("tools/test.py", config, converted, "--work-dir", tmp_path / "tested")
    assert run.returncode == 0, run.stderr[-3000:]
    assert f"Load checkpoint from {converted}" in run.stdout + run.stderr
    (metrics_file,) = (tmp_path / "tested").glob("*/*.json")
    assert {"coco/bbox_mAP", "coco/segm_mAP"} <= set(json.loads(metrics_file.read_text()))
