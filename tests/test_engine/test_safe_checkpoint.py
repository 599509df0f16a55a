"""Weights-only checkpoints: encoding, the hook, refusing malicious files, the converter."""

from __future__ import annotations

import datetime
import itertools
import os
from collections import Counter, OrderedDict

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer, MessageHub

from mmdet_evonorm.checks import BadInputError
from mmdet_evonorm.engine import SafeCheckpointHook
from mmdet_evonorm.engine.safe_checkpoint import (
    FORMAT_KEY,
    UnsafeCheckpointError,
    check_weights_only,
    convert_checkpoint,
    decode_checkpoint,
    encode_checkpoint,
)

_HUB_IDS = itertools.count()


class FileCreatingPayload:
    """Unpickling this runs ``os.system('touch <marker>')``."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def _mmengine_checkpoint() -> dict:
    """What ``Runner.save_checkpoint`` builds: a message hub with HistoryBuffers, NumPy values."""
    hub = MessageHub.get_instance(f"test_safe_checkpoint_{next(_HUB_IDS)}")
    for step, loss in enumerate([1.5, 1.25, 1.0]):
        hub.update_scalar("train/loss", loss)
        hub.update_info("iter", step)
    hub.update_info("best_score", np.float64(0.25))
    hub.update_info("mask_area", np.arange(6, dtype=np.int32).reshape(2, 3))
    torch.manual_seed(0)
    return {
        "meta": {"iter": 3, "dataset_meta": {"classes": ("a", "b")}},
        "state_dict": OrderedDict(weight=torch.randn(2, 3), bias=torch.zeros(2)),
        "message_hub": hub.state_dict(),
        "param_schedulers": [{"milestones": Counter({8: 1, 11: 1}), "last_step": 3}],
    }


def _save(tmp_path, obj, name="ckpt.pth"):
    path = tmp_path / name
    torch.save(obj, path)
    return path


def test_plain_mmengine_checkpoint_is_refused_weights_only(tmp_path):
    path = _save(tmp_path, _mmengine_checkpoint())
    with pytest.raises(UnsafeCheckpointError, match="HistoryBuffer.*convert_checkpoint.py"):
        check_weights_only(path)


def test_hook_makes_checkpoint_weights_only_and_restores_it(tmp_path):
    original = _mmengine_checkpoint()
    checkpoint = _mmengine_checkpoint()
    hook = SafeCheckpointHook()
    hook.before_save_checkpoint(None, checkpoint)
    assert checkpoint["meta"][FORMAT_KEY] == 1
    path = _save(tmp_path, checkpoint)
    check_weights_only(path)  # does not raise

    loaded = torch.load(path, weights_only=True)
    hook.after_load_checkpoint(None, loaded)
    buffer = loaded["message_hub"]["log_scalars"]["train/loss"]
    assert isinstance(buffer, HistoryBuffer)
    expected = original["message_hub"]["log_scalars"]["train/loss"]
    for got, want in zip(buffer.data, expected.data, strict=True):
        np.testing.assert_array_equal(got, want)
        assert got.dtype == want.dtype
    assert buffer.mean() == pytest.approx(1.25)
    assert buffer.max_length == expected.max_length
    info = loaded["message_hub"]["runtime_info"]
    assert type(info["best_score"]) is np.float64 and info["best_score"] == 0.25
    np.testing.assert_array_equal(info["mask_area"], np.arange(6, dtype=np.int32).reshape(2, 3))
    assert info["mask_area"].dtype == np.int32
    assert loaded["param_schedulers"] == original["param_schedulers"]
    assert type(loaded["param_schedulers"][0]["milestones"]) is Counter
    assert loaded["meta"]["dataset_meta"] == original["meta"]["dataset_meta"]
    for key, value in original["state_dict"].items():
        assert torch.equal(loaded["state_dict"][key], value)

    # a restored hub behaves like the saved one (what Runner.resume does next)
    hub = MessageHub.get_instance(f"test_safe_checkpoint_{next(_HUB_IDS)}")
    hub.load_state_dict(loaded["message_hub"])
    assert hub.get_scalar("train/loss").current() == 1.0


def test_decode_leaves_foreign_checkpoints_alone_and_rejects_newer_formats():
    foreign = {"meta": {}, "state_dict": {"w": torch.ones(1)}}
    decode_checkpoint(foreign)
    assert torch.equal(foreign["state_dict"]["w"], torch.ones(1))
    with pytest.raises(ValueError, match="newer"):
        decode_checkpoint({"meta": {FORMAT_KEY: 99}})


def test_malicious_checkpoint_is_refused_without_running_it(tmp_path, monkeypatch):
    marker = tmp_path / "pwned"
    path = _save(tmp_path, {"state_dict": {}, "x": FileCreatingPayload(marker)})
    # the user's environment cannot switch the check off
    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    with pytest.raises(UnsafeCheckpointError, match="posix.system|os.system") as info:
        check_weights_only(path)
    assert "\n" not in str(info.value)
    assert not marker.exists()


def test_truncated_file_is_a_checkpoint_error_not_unsafe(tmp_path):
    whole = _save(tmp_path, {"state_dict": {"w": torch.ones(1000)}}).read_bytes()
    path = tmp_path / "truncated.pth"
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(BadInputError, match="not a readable torch checkpoint") as info:
        check_weights_only(path)
    assert not isinstance(info.value, UnsafeCheckpointError)


def test_other_pickles_are_refused_naming_the_problem(tmp_path):
    path = tmp_path / "notes.pth"
    path.write_text("not a checkpoint\n")
    with pytest.raises(UnsafeCheckpointError, match="Unsupported operand"):
        check_weights_only(path)


def test_converter_makes_trusted_checkpoint_loadable_and_never_overwrites(tmp_path, capsys):
    src = _save(tmp_path, _mmengine_checkpoint())
    dst = tmp_path / "converted.pth"
    warnings = []
    convert_checkpoint(src, dst, log=warnings.append)
    assert len(warnings) == 1 and "weights_only=False" in warnings[0]
    check_weights_only(dst)
    loaded = torch.load(dst, weights_only=True)
    decode_checkpoint(loaded)
    assert isinstance(loaded["message_hub"]["log_scalars"]["train/loss"], HistoryBuffer)

    before = dst.read_bytes()
    with pytest.raises(BadInputError, match="already exists"):
        convert_checkpoint(src, dst, log=warnings.append)
    assert dst.read_bytes() == before


def test_converter_wraps_a_bare_state_dict_and_skips_the_warning_when_safe(tmp_path):
    src = _save(tmp_path, OrderedDict(weight=torch.ones(2)))
    dst = tmp_path / "converted.pth"
    warnings = []
    convert_checkpoint(src, dst, log=warnings.append)
    assert warnings == []
    loaded = torch.load(dst, weights_only=True)
    assert torch.equal(loaded["state_dict"]["weight"], torch.ones(2))


def test_converter_reports_objects_it_cannot_make_safe(tmp_path):
    src = _save(tmp_path, {"state_dict": {}, "meta": {"day": datetime.date(2026, 1, 1)}})
    with pytest.raises(BadInputError, match="does not handle"):
        convert_checkpoint(src, tmp_path / "out.pth", log=lambda _: None)
    assert not (tmp_path / "out.pth").exists()


def test_encode_keeps_plain_values():
    checkpoint = {"meta": {"epoch": 1, "names": ["a"], "shape": (1, 2)}, "state_dict": {}}
    encode_checkpoint(checkpoint)
    assert checkpoint["meta"] == {"epoch": 1, "names": ["a"], "shape": (1, 2), FORMAT_KEY: 1}
