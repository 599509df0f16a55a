"""AtomicCheckpointHook and atomic file replacement, with a stand-in runner.

The runner's ``save_checkpoint`` is replaced by one that writes a few bytes (or
fails half-way, as a kill would), so the hook's ordering can be checked
directly: publish the new file, then ``last_checkpoint``, then delete old ones.
"""

from __future__ import annotations

import itertools
import os
from types import SimpleNamespace

import pytest
from mmengine.logging import MessageHub

from mmdet_evonorm.engine import AtomicCheckpointHook
from mmdet_evonorm.engine.atomic_files import write_text_atomic

_HUB_IDS = itertools.count()


class _KilledError(Exception):
    """Stands for the process dying inside ``save_checkpoint``."""


def _runner(work_dir, fail_at=None):
    def save_checkpoint(out_dir, filename, meta, **kwargs):
        path = os.path.join(out_dir, filename)
        with open(path, "wb") as file:
            file.write(f"iteration {meta['iter']}".encode())
            if meta["iter"] == fail_at:
                raise _KilledError

    return SimpleNamespace(
        work_dir=str(work_dir),
        message_hub=MessageHub.get_instance(f"test_atomic_checkpoint_{next(_HUB_IDS)}"),
        logger=SimpleNamespace(info=lambda message: None),
        save_checkpoint=save_checkpoint,
    )


def _save(hook, runner, step):
    hook._save_checkpoint_with_step(runner, step, meta=dict(epoch=0, iter=step))


def _names(folder):
    return sorted(path.name for path in folder.iterdir())


def test_saves_publish_then_point_then_delete(tmp_path):
    hook = AtomicCheckpointHook(interval=2, by_epoch=False, max_keep_ckpts=1)
    runner = _runner(tmp_path, fail_at=6)
    (tmp_path / ".iter_4.pth.tmp").write_bytes(b"left by a killed run")
    hook.before_train(runner)
    assert _names(tmp_path) == []  # the stale temp file is gone

    _save(hook, runner, 2)
    _save(hook, runner, 4)
    assert _names(tmp_path) == ["iter_4.pth", "last_checkpoint"]
    assert (tmp_path / "last_checkpoint").read_text() == str(tmp_path / "iter_4.pth")
    assert runner.message_hub.get_info("keep_ckpt_ids") == [4]

    with pytest.raises(_KilledError):  # dies while writing iteration 6
        _save(hook, runner, 6)
    # mmengine's CheckpointHook would have deleted iter_4.pth before writing
    # iter_6.pth in place; here the last checkpoint is still whole and named
    assert _names(tmp_path) == [".iter_6.pth.tmp", "iter_4.pth", "last_checkpoint"]
    assert (tmp_path / "last_checkpoint").read_text() == str(tmp_path / "iter_4.pth")
    assert (tmp_path / "iter_4.pth").read_bytes() == b"iteration 4"


def test_without_retention_every_checkpoint_stays(tmp_path):
    hook = AtomicCheckpointHook(interval=1, by_epoch=False)
    runner = _runner(tmp_path)
    hook.before_train(runner)
    for step in (1, 2, 3):
        _save(hook, runner, step)
    assert _names(tmp_path) == ["iter_1.pth", "iter_2.pth", "iter_3.pth", "last_checkpoint"]


def test_write_text_atomic_keeps_the_old_text_when_the_rename_fails(tmp_path, monkeypatch):
    path = tmp_path / "last_checkpoint"
    write_text_atomic(str(path), "old")

    def rename_fails(src, dst):
        raise OSError("killed before the rename")

    monkeypatch.setattr(os, "replace", rename_fails)
    with pytest.raises(OSError):
        write_text_atomic(str(path), "new")
    assert path.read_text() == "old"
