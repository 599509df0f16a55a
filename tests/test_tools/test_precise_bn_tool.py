"""tools/precise_bn.py: a new checkpoint with the RoI heads' BN statistics re-estimated."""

from __future__ import annotations

import pytest
import torch
from helpers import single_error_line, snapshot

from mmdet_evonorm.engine.cli import run_precise_bn
from mmdet_evonorm.testing import build_detector

BN_HEADS = {
    "model.roi_head.bbox_head.type": "ConvFCBBoxHead",
    "model.roi_head.bbox_head.num_shared_convs": 2,
    "model.roi_head.bbox_head.num_shared_fcs": 1,
    "model.roi_head.bbox_head.conv_out_channels": 32,
    "model.roi_head.bbox_head.norm_cfg": dict(type="BN"),
    "model.roi_head.mask_head.norm_cfg": dict(type="BN"),
    "train_dataloader.batch_sampler": dict(type="AspectRatioBatchSampler"),  # as mmdet's
}


def save_checkpoint(config, path):
    """An initialised model of ``config`` saved as a (weights-only) training checkpoint."""
    from mmengine.config import Config

    torch.manual_seed(0)
    model = build_detector(Config.fromfile(str(config)).model)
    model.init_weights()
    torch.save({"state_dict": model.state_dict(), "meta": {"iter": 3}}, path)
    return path


@pytest.mark.slow
def test_new_checkpoint_differs_only_in_the_heads_bn_statistics(tiny_config, tool, tmp_path):
    config = tiny_config("bn_heads.py", **BN_HEADS)
    source = save_checkpoint(config, tmp_path / "iter_3.pth")
    original = source.read_bytes()
    out = tmp_path / "precise" / "iter_3_precise.pth"
    out.parent.mkdir()
    run = tool("tools/precise_bn.py", config, source, "--out", out, "--batches", "50")
    assert run.returncode == 0, run.stderr[-3000:]
    assert "precise BN: 50 batches asked, the loader has 4: using all" in run.stdout + run.stderr
    assert source.read_bytes() == original
    before = torch.load(source, weights_only=True)["state_dict"]
    after = torch.load(out, weights_only=True)
    assert after["meta"]["precise_bn"] == dict(source="iter_3.pth", batches=50, scope="roi_head")
    changed = {k for k in before if not torch.equal(before[k], after["state_dict"][k])}
    assert changed and all(
        k.startswith("roi_head.") and k.endswith(("running_mean", "running_var")) for k in changed
    )
    assert len(changed) == 2 * 6  # 2 box-head convs + 4 mask convs


def test_bad_input_is_one_line_and_writes_nothing(tiny_config, tmp_path, capsys):
    bn_config = tiny_config("bn_heads.py", **BN_HEADS)
    plain_config = tiny_config("plain.py")
    checkpoint = save_checkpoint(bn_config, tmp_path / "bn.pth")
    plain_checkpoint = save_checkpoint(plain_config, tmp_path / "plain.pth")
    existing = tmp_path / "taken.pth"
    existing.write_bytes(b"an earlier result")
    cases = [
        ([bn_config, tmp_path / "missing.pth", "--out", tmp_path / "new.pth"], "not found"),
        ([plain_config, plain_checkpoint, "--out", tmp_path / "new.pth"], "holds no BN layer"),
        ([bn_config, checkpoint, "--out", existing], "already exists"),
        ([bn_config, checkpoint, "--out", tmp_path / "new.pth", "--batches", "0"], "--batches 0"),
    ]
    for argv, named in cases:
        before = snapshot(tmp_path)
        assert run_precise_bn([str(a) for a in argv]) == 2
        assert named in single_error_line(capsys.readouterr().err)
        assert snapshot(tmp_path) == before
