"""``bash tools/dist_train.sh CONFIG 2`` and ``dist_test.sh`` on a machine without a GPU.

Two torchrun processes train the tiny Mask R-CNN for 3 iterations with gloo and
DDP (no device ids). Each rank dumps its model state before and after training
through a test-only hook; both ranks must end with bit-identical weights that
differ from the initial ones (DDP averaged the gradients of their different
data shards), and the checkpoint rank 0 wrote must hold the same weights. Then
two processes evaluate that checkpoint.
"""

from __future__ import annotations

import json
import pickle
import socket
import textwrap

import pytest
import torch

RANK_DUMP_HOOK = textwrap.dedent(
    """
    import json

    import torch
    from mmdet.registry import HOOKS
    from mmengine.dist import get_rank, get_world_size
    from mmengine.hooks import Hook


    @HOOKS.register_module()
    class RankStateDumpHook(Hook):
        def before_train(self, runner):
            self._dump(runner, "init")

        def after_train(self, runner):
            self._dump(runner, "final")

        def _dump(self, runner, tag):
            model = getattr(runner.model, "module", runner.model)
            rank = get_rank()
            torch.save(model.state_dict(), f"{runner.work_dir}/{tag}_rank{rank}.pth")
            info = dict(wrapper=type(runner.model).__name__, world_size=get_world_size())
            with open(f"{runner.work_dir}/{tag}_rank{rank}.json", "w") as file:
                json.dump(info, file)
    """
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _state(path):
    return torch.load(path, map_location="cpu", weights_only=True)


@pytest.mark.slow
@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU (gloo) path")
def test_two_process_cpu_training_keeps_ranks_identical(tiny_config, tool, tmp_path):
    (tmp_path / "rank_state_dump.py").write_text(RANK_DUMP_HOOK)
    config = tiny_config(
        **{
            "custom_imports.imports": ["mmdet_evonorm", "rank_state_dump"],
            "custom_hooks": [dict(type="RankStateDumpHook")],
        }
    )
    work_dir = tmp_path / "work"
    env = {"PYTHONPATH": str(tmp_path), "PORT": str(_free_port())}

    run = tool("tools/dist_train.sh", config, 2, "--work-dir", work_dir, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    for rank in (0, 1):
        info = json.loads((work_dir / f"final_rank{rank}.json").read_text())
        assert info == dict(wrapper="MMDistributedDataParallel", world_size=2)
    init = _state(work_dir / "init_rank0.pth")
    rank0, rank1 = _state(work_dir / "final_rank0.pth"), _state(work_dir / "final_rank1.pth")
    checkpoint = _state(work_dir / "iter_3.pth")["state_dict"]
    assert rank0.keys() == rank1.keys() == checkpoint.keys()
    for key in rank0:
        assert torch.equal(rank0[key], rank1[key]), key
        assert torch.equal(rank0[key], checkpoint[key]), key
    changed = [key for key in init if not torch.equal(init[key], rank0[key])]
    assert len(changed) > len(init) // 2  # training moved most parameters

    out = tmp_path / "predictions.pkl"
    env["PORT"] = str(_free_port())
    test_dir = tmp_path / "test"
    ckpt = work_dir / "iter_3.pth"
    run = tool("tools/dist_test.sh", config, ckpt, 2, "--work-dir", test_dir, "--out", out, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    with open(out, "rb") as file:  # written by this test's run: results of all 3 val images
        assert sorted(result["img_id"] for result in pickle.load(file)) == [0, 1, 2]
    (metrics_file,) = test_dir.glob("*/*.json")
    assert "coco/segm_mAP" in json.loads(metrics_file.read_text())
