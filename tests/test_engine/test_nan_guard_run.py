"""An injected NaN in a tiny training run: stop within one iteration, or skip up to N updates.

``tools/train.py``'s code path runs in-process (``run_train``) on the tiny R18
Mask R-CNN with a checkpoint after every iteration. A test-only hook makes the
mask head's logits NaN at chosen iterations, so ``loss_mask`` and every
gradient upstream of it are NaN there, as a real divergence would be.
"""

from __future__ import annotations

import pytest
import torch
from mmdet.registry import HOOKS
from mmengine.hooks import Hook

from mmdet_evonorm.engine.cli import run_train
from mmdet_evonorm.engine.safe_checkpoint import from_weights_only


@HOOKS.register_module(force=True)
class InjectNaNMaskLogitsHook(Hook):
    """Multiply the mask head's output by NaN during the given (1-based) iterations."""

    priority = "VERY_HIGH"

    def __init__(self, iterations):
        self.iterations = set(iterations)
        self._handle = None

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if runner.iter + 1 in self.iterations:
            mask_head = getattr(runner.model, "module", runner.model).roi_head.mask_head
            self._handle = mask_head.register_forward_hook(lambda m, i, out: out * float("nan"))

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if self._handle is not None:
            self._handle.remove()
            self._handle = None


def _train(tiny_config, tmp_path, capsys, nan_at, max_skips):
    name = f"nan_at_{'_'.join(map(str, nan_at))}_skips_{max_skips}"
    config = tiny_config(
        f"{name}.py",
        **{
            "train_cfg.max_iters": 4,
            "default_hooks.checkpoint.interval": 1,
            "default_hooks.non_finite_guard": dict(type="NonFiniteGuardHook", max_skips=max_skips),
            "custom_hooks": [dict(type="InjectNaNMaskLogitsHook", iterations=nan_at)],
            "val_dataloader": None,
            "val_cfg": None,
            "val_evaluator": None,
        },
    )
    work_dir = tmp_path / name
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the tools run in the other tests (OMP_NUM_THREADS=1)
    try:
        status = run_train([str(config), "--work-dir", str(work_dir)])
    finally:
        torch.set_num_threads(threads)
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    (log,) = work_dir.glob("*/*.log")
    return status, errors, work_dir, log.read_text()


def _load(path):
    return from_weights_only(torch.load(path, map_location="cpu", weights_only=True))


def _checkpoints(work_dir):
    return sorted(path.name for path in work_dir.glob("*.pth"))


def _all_finite(state_dict):
    return all(
        torch.isfinite(value).all() for value in state_dict.values() if value.is_floating_point()
    )


def _same(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[key], b[key]) for key in a)


def _momentum(checkpoint):
    return {index: s["momentum_buffer"] for index, s in checkpoint["optimizer"]["state"].items()}


@pytest.mark.slow
def test_nan_stops_within_the_iteration_and_keeps_the_last_good_checkpoint(
    tiny_config, tmp_path, capsys
):
    status, errors, work_dir, _ = _train(tiny_config, tmp_path, capsys, nan_at=[3], max_skips=0)
    assert status == 3
    (line,) = errors
    assert line.startswith("error: iteration 3: non-finite loss_mask=nan, grad norm=nan;")
    assert "withheld" in line and str(work_dir / "iter_2.pth") in line and "--resume" in line
    # nothing saved after the bad iteration (interval=1 and save_last would have saved 3)
    assert _checkpoints(work_dir) == ["iter_1.pth", "iter_2.pth"]
    assert (work_dir / "last_checkpoint").read_text() == str(work_dir / "iter_2.pth")
    last_good = _load(work_dir / "iter_2.pth")
    assert last_good["meta"]["iter"] == 2 and _all_finite(last_good["state_dict"])


@pytest.mark.slow
def test_skipped_nan_update_changes_nothing_and_training_completes(tiny_config, tmp_path, capsys):
    status, errors, work_dir, log = _train(tiny_config, tmp_path, capsys, nan_at=[2], max_skips=1)
    assert status == 0 and errors == []
    expected = (
        "iteration 2: non-finite loss_mask=nan, grad norm=nan; update skipped (1 of max_skips=1)"
    )
    assert expected in log
    assert _checkpoints(work_dir) == [f"iter_{i}.pth" for i in (1, 2, 3, 4)]
    before, skipped, after = (_load(work_dir / f"iter_{i}.pth") for i in (1, 2, 3))
    assert _same(skipped["state_dict"], before["state_dict"])  # the update was not applied
    assert _same(_momentum(skipped), _momentum(before))
    assert not _same(after["state_dict"], skipped["state_dict"])  # iteration 3 trained again
    assert _all_finite(_load(work_dir / "iter_4.pth")["state_dict"])
    assert skipped["message_hub"]["runtime_info"]["non_finite_skips"] == 1


@pytest.mark.slow
def test_more_bad_iterations_than_max_skips_stop(tiny_config, tmp_path, capsys):
    status, errors, work_dir, _ = _train(tiny_config, tmp_path, capsys, nan_at=[2, 3], max_skips=1)
    assert status == 3
    (line,) = errors
    assert line.startswith("error: iteration 3: non-finite loss_mask=nan")
    assert "max_skips=1 used up" in line
    assert _checkpoints(work_dir) == ["iter_1.pth", "iter_2.pth"]
