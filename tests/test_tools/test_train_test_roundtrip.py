"""tools/train.py -> weights-only checkpoint -> tools/test.py and --resume, on CPU.

One end-to-end test (subprocesses, as a user runs the tools): the tiny R18
Mask R-CNN trains 3 iterations on the synthetic set, tools/test.py evaluates the
last checkpoint with COCO bbox + segm metrics, and a second run resumed from the
iteration-2 checkpoint ends in the same iteration, learning rate and logged
history as the uninterrupted run.
"""

from __future__ import annotations

import json
import pickle

import pytest
import torch
from torch.serialization import get_unsafe_globals_in_checkpoint

from mmdet_evonorm.engine.safe_checkpoint import from_weights_only

METRICS = [
    f"coco/{kind}_mAP{s}" for kind in ("bbox", "segm") for s in ("", "_50", "_75", "_s", "_m", "_l")
]


def _load(path):
    """Load weights-only (torch's default since 2.6) and rebuild what the hook rewrote."""
    return from_weights_only(torch.load(path, map_location="cpu", weights_only=True))


def _lr(checkpoint) -> float:
    return checkpoint["optimizer"]["param_groups"][0]["lr"]


@pytest.mark.slow
def test_train_checkpoint_test_and_resume(tiny_config, tool, tmp_path):
    config = tiny_config()
    first, resumed, tested = tmp_path / "first", tmp_path / "resumed", tmp_path / "tested"

    run = tool("tools/train.py", config, "--work-dir", first)
    assert run.returncode == 0, run.stderr[-3000:]
    for name in ("iter_2.pth", "iter_3.pth"):
        assert get_unsafe_globals_in_checkpoint(first / name) == []
    full = _load(first / "iter_3.pth")
    assert full["meta"]["iter"] == 3
    assert len(full["message_hub"]["log_scalars"]["train/loss"].data[0]) == 3

    out = tested / "predictions.pkl"
    run = tool("tools/test.py", config, first / "iter_3.pth", "--work-dir", tested, "--out", out)
    assert run.returncode == 0, run.stderr[-3000:]
    (metrics_file,) = tested.glob("*/*.json")
    metrics = json.loads(metrics_file.read_text())
    assert set(METRICS) <= set(metrics)
    assert all(-1 <= metrics[key] <= 1 for key in METRICS)
    with open(out, "rb") as file:  # our own output: a list with one entry per val image
        assert len(pickle.load(file)) == 3

    run = tool("tools/train.py", config, "--work-dir", resumed, "--resume", first / "iter_2.pth")
    assert run.returncode == 0, run.stderr[-3000:]
    assert "resumed epoch: 0, iter: 2" in run.stdout + run.stderr
    assert not (resumed / "iter_2.pth").exists()  # only iteration 3 was trained
    again = _load(resumed / "iter_3.pth")
    assert again["meta"]["iter"] == 3
    # the MultiStepLR milestone at iteration 2 survived the round trip (lr dropped 10x)
    assert _lr(again) == pytest.approx(_lr(full)) == pytest.approx(1e-3)
    assert again["param_schedulers"] == full["param_schedulers"]
    # two restored HistoryBuffer entries + one new one, the restored ones unchanged
    history = again["message_hub"]["log_scalars"]["train/loss"].data[0]
    saved = _load(first / "iter_2.pth")["message_hub"]["log_scalars"]["train/loss"].data[0]
    assert len(history) == 3
    assert history[:2].tolist() == saved.tolist()
