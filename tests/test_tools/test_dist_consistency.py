"""EvoNorm-S0 model: 2 CPU processes x 2 images give the loss curve of 1 process x 4 images.

The tiny Mask R-CNN with EvoNorm-S0 in the FPN and in the mask head (no
activation after it, as the EvoNorm rows) trains 4 iterations twice:

* ``tools/train.py`` with batch 4;
* ``tools/dist_train.sh CONFIG 2`` (gloo) with batch 2 per process, SIGKILLed
  (bash, torchrun and both workers at once, as a node failure would) once the
  iteration-2 checkpoint is published, and continued with
  ``dist_train.sh ... --resume``. (torchrun starts its workers in sessions of
  their own, so killing torchrun alone leaves them training.)

``DefaultSampler`` deals the same seeded permutation to both: the 1-process
batch ``k`` is images ``perm[4k:4k+4]``, rank ``r`` of the 2-process run takes
``perm[4k+r]`` and ``perm[4k+2+r]``, so each global batch holds the same four
images. EvoNorm-S0 normalises per sample and the backbone's BN uses frozen
statistics, so nothing depends on how a batch is split. What remains:

* DDP averages the two ranks' gradients, i.e. optimises the mean of the two
  half-batch losses, while one process averages over the whole batch (the
  same only where both halves have equally many positives / samples);
* the RPN and RoI samplers draw a random subset per image from one stream per
  process.

The samplers here take every anchor and RoI (no random subset), leaving the
first effect only. The global loss of the 2-process run (mean of the ranks'
losses, recorded per rank by a test-only hook) must match the 1-process one
within 2 % per term in iteration 1 (same weights) and within 2 % for the total
loss in every iteration; the measured gaps are printed (docs/reliability.md).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections import defaultdict
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[2]
TERMS = ("loss", "loss_rpn_cls", "loss_rpn_bbox", "loss_cls", "loss_bbox", "loss_mask")

LOSS_LOG_HOOK = textwrap.dedent(
    """
    import json

    from mmdet.registry import HOOKS
    from mmengine.dist import get_rank
    from mmengine.hooks import Hook


    @HOOKS.register_module()
    class RankLossLogHook(Hook):
        def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
            record = {key: float(value) for key, value in outputs.items()}
            record["iter"] = runner.iter + 1
            with open(f"{runner.work_dir}/losses_rank{get_rank()}.jsonl", "a") as file:
                file.write(json.dumps(record) + "\\n")
    """
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start(command, env):
    return subprocess.Popen(
        [str(part) for part in command],
        cwd=REPO,
        env={**os.environ, "OMP_NUM_THREADS": "1", "PYTHON": sys.executable, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _curve(work_dir: Path, rank: int) -> dict[int, dict]:
    """Iteration -> loss terms; a resumed run's record replaces the killed run's."""
    lines = (work_dir / f"losses_rank{rank}.jsonl").read_text().splitlines()
    return {record["iter"]: record for record in map(json.loads, lines)}


def _process_tree(root: int) -> list[int]:
    """``root`` and all its descendants (from /proc)."""
    children = defaultdict(list)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        children[int(fields[1])].append(int(stat.parent.name))
    tree, index = [root], 0
    while index < len(tree):
        tree += children[tree[index]]
        index += 1
    return tree


def _kill_tree_after(process, marker: Path, timeout=180):
    deadline = time.monotonic() + timeout
    while not marker.exists():
        assert process.poll() is None, process.stdout.read()[-3000:]
        assert time.monotonic() < deadline, f"{marker} never appeared"
        time.sleep(0.02)
    for pid in _process_tree(process.pid):
        os.kill(pid, signal.SIGKILL)
    process.wait()


@pytest.mark.slow
@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU (gloo) path")
def test_two_processes_follow_the_one_process_loss_curve(tiny_config, tmp_path):
    (tmp_path / "rank_loss_log.py").write_text(LOSS_LOG_HOOK)
    evonorm = dict(type="EvoNormS0")
    common = {
        "custom_imports.imports": ["mmdet_evonorm", "rank_loss_log"],
        "custom_hooks": [dict(type="RankLossLogHook")],
        "model.neck.norm_cfg": evonorm,
        "model.neck.act_cfg": None,
        "model.roi_head.mask_head.type": "NormFCNMaskHead",
        "model.roi_head.mask_head.norm_cfg": evonorm,
        "model.roi_head.mask_head.act_cfg": None,
        "train_cfg.max_iters": 4,
        "model.train_cfg.rpn.sampler.num": 100_000,  # every anchor and RoI, no random subset
        "model.train_cfg.rcnn.sampler.num": 100_000,
        "val_dataloader": None,
        "val_cfg": None,
        "val_evaluator": None,
    }
    single = tiny_config("single.py", **common, **{"train_dataloader.batch_size": 4})
    double = tiny_config("double.py", **common, **{"train_dataloader.batch_size": 2})
    one, two = tmp_path / "one", tmp_path / "two"
    env = {"PYTHONPATH": str(tmp_path)}

    reference = _start([sys.executable, "tools/train.py", single, "--work-dir", one], env)
    dist_cmd = ["bash", "tools/dist_train.sh", double, 2, "--work-dir", two]
    killed = _start(dist_cmd, {**env, "PORT": str(_free_port())})
    _kill_tree_after(killed, two / "last_checkpoint")
    resumed = _start([*dist_cmd, "--resume"], {**env, "PORT": str(_free_port())})
    for run in (reference, resumed):
        output, _ = run.communicate(timeout=300)
        assert run.returncode == 0, output[-3000:]
    assert "resumed epoch: 0, iter: 2" in output

    expected = _curve(one, 0)
    ranks = [_curve(two, rank) for rank in (0, 1)]
    assert sorted(expected) == sorted(ranks[0]) == sorted(ranks[1]) == [1, 2, 3, 4]
    gaps = {  # relative gap of the 2-process global loss, per iteration and term
        (iteration, term): abs((ranks[0][iteration][term] + ranks[1][iteration][term]) / 2 - value)
        / abs(value)
        for iteration, record in expected.items()
        for term, value in record.items()
        if term in TERMS
    }
    print("relative gaps:", {key: round(gap, 5) for key, gap in gaps.items()})
    # iteration 1: same weights, same images; only the per-rank loss normalisation differs
    assert max(gaps[1, term] for term in TERMS) <= 0.02
    # the total loss stays on the curve while the small update differences accumulate
    assert max(gaps[iteration, "loss"] for iteration in expected) <= 0.02
