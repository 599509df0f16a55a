"""SIGKILL a training run, resume it with ``--resume``, get the uninterrupted run's weights.

Three ``tools/train.py`` runs of the tiny R18 Mask R-CNN start together (4
iterations, checkpoints every 2, ``max_keep_ckpts=1``, no validation):

* the reference, never interrupted;
* victim A, killed with SIGKILL (its whole process group) as soon as its first
  checkpoint is published, i.e. somewhere in iteration 3 or later;
* victim B, which writes half of ``iter_4.pth`` (its last checkpoint) and then
  SIGKILLs itself (a
  test-only patch of mmengine's ``LocalBackend.put``): a kill in the middle of
  a checkpoint save, when mmengine's own ``CheckpointHook`` would already have
  deleted ``iter_2.pth`` (``max_keep_ckpts=1``) and then left a truncated
  ``iter_4.pth`` behind.

Both victims then resume with ``--resume`` (latest checkpoint). Their final
weights, optimizer state and logged loss history must equal the reference's:
``IterationSeedHook`` makes the random draws after a resume the same as in the
uninterrupted run, and the data order is replayed by mmengine.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
import torch

from mmdet_evonorm.engine.safe_checkpoint import from_weights_only

CRASH_MODULE = textwrap.dedent(
    """
    # Test-only: with CRASH_DURING_SAVE_OF=NAME, writing NAME (or its temp file)
    # stops half-way with SIGKILL, as a kill during a checkpoint save would.
    import os
    import signal

    from mmengine.fileio import LocalBackend

    _put = LocalBackend.put


    def _put_half_then_die(self, obj, filepath):
        if os.environ.get("CRASH_DURING_SAVE_OF", "//") in os.path.basename(str(filepath)):
            with open(filepath, "wb") as file:
                file.write(obj[: len(obj) // 2])
            os.kill(os.getpid(), signal.SIGKILL)
        _put(self, obj, filepath)


    LocalBackend.put = _put_half_then_die
    """
)


def _start(config, work_dir, env=None, *extra):
    command = [sys.executable, "tools/train.py", str(config), "--work-dir", str(work_dir), *extra]
    return subprocess.Popen(
        command,
        cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
        env={**os.environ, "OMP_NUM_THREADS": "1", **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, killed as a whole
    )


def _kill_after_first_checkpoint(process, work_dir, timeout=120):
    deadline = time.monotonic() + timeout
    while not (work_dir / "last_checkpoint").exists():
        assert process.poll() is None, process.stdout.read()[-3000:]
        assert time.monotonic() < deadline, "no checkpoint appeared"
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _finish(process, timeout=240) -> str:
    output, _ = process.communicate(timeout=timeout)
    return output


def _load(path):
    return from_weights_only(torch.load(path, map_location="cpu", weights_only=True))


def _max_difference(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    return max((a[k].double() - b[k].double()).abs().max().item() for k in a if a[k].numel())


@pytest.mark.slow
def test_sigkill_anytime_then_resume_matches_uninterrupted_run(tiny_config, tmp_path):
    (tmp_path / "crash_during_save.py").write_text(CRASH_MODULE)
    config = tiny_config(
        **{
            "custom_imports.imports": ["mmdet_evonorm", "crash_during_save"],
            "train_cfg.max_iters": 4,
            "default_hooks.checkpoint.max_keep_ckpts": 1,
            "val_dataloader": None,
            "val_cfg": None,
            "val_evaluator": None,
        }
    )
    reference, victim_a, victim_b = (tmp_path / name for name in ("reference", "a", "b"))
    env = {"PYTHONPATH": str(tmp_path)}
    runs = [
        _start(config, reference, env),
        _start(config, victim_a, env),
        _start(config, victim_b, {**env, "CRASH_DURING_SAVE_OF": "iter_4.pth"}),
    ]
    _kill_after_first_checkpoint(runs[1], victim_a)
    outputs = [_finish(run) for run in (runs[0], runs[2])]
    assert runs[0].returncode == 0, outputs[0][-3000:]
    assert runs[1].returncode == runs[2].returncode == -signal.SIGKILL, outputs[1][-3000:]

    # Killed mid-save: iter_2 is still the last checkpoint, whole; no partial iter_4.pth.
    assert (victim_b / "last_checkpoint").read_text() == str(victim_b / "iter_2.pth")
    assert _load(victim_b / "iter_2.pth")["meta"]["iter"] == 2
    assert not (victim_b / "iter_4.pth").exists()
    assert (victim_b / ".iter_4.pth.tmp").stat().st_size > 0  # the half-written save
    killed_at = {
        victim: int(_load((victim / "last_checkpoint").read_text())["meta"]["iter"])
        for victim in (victim_a, victim_b)
    }

    resumed = [_start(config, victim, env, "--resume") for victim in (victim_a, victim_b)]
    for run, victim in zip(resumed, (victim_a, victim_b), strict=True):
        output = _finish(run)
        assert run.returncode == 0, output[-3000:]
        assert f"resumed epoch: 0, iter: {killed_at[victim]}" in output
        assert not list(victim.glob(".*.tmp"))  # the stale temp file was removed
        assert sorted(p.name for p in victim.glob("*.pth")) == ["iter_4.pth"]  # retention

    expected = _load(reference / "iter_4.pth")
    for victim in (victim_a, victim_b):
        final = _load(victim / "iter_4.pth")
        assert _max_difference(final["state_dict"], expected["state_dict"]) <= 1e-6
        momentum = {k: s["momentum_buffer"] for k, s in final["optimizer"]["state"].items()}
        reference = {k: s["momentum_buffer"] for k, s in expected["optimizer"]["state"].items()}
        assert _max_difference(momentum, reference) <= 1e-6
        losses = final["message_hub"]["log_scalars"]["train/loss"].data[0]
        reference_losses = expected["message_hub"]["log_scalars"]["train/loss"].data[0]
        assert losses.tolist() == pytest.approx(reference_losses.tolist(), rel=1e-6)
