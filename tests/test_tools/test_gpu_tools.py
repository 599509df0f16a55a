"""The tools on a GPU: nothing of the CPU path applies (NCCL, DDP with device ids, AMP).

Skipped without CUDA.
"""

from __future__ import annotations

import json
import socket
import textwrap

import pytest
import torch

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.slow,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA"),
]

RECORD_HOOK = textwrap.dedent(
    """
    import json

    import torch.distributed as dist
    from mmdet.registry import HOOKS
    from mmengine.hooks import Hook


    @HOOKS.register_module()
    class RecordRuntimeHook(Hook):
        def before_train(self, runner):
            info = dict(
                backend=dist.get_backend() if dist.is_initialized() else None,
                device_ids=getattr(runner.model, "device_ids", None),
                device=str(next(runner.model.parameters()).device),
            )
            with open(f"{runner.work_dir}/runtime.json", "w") as file:
                json.dump(info, file)
    """
)


def test_train_amp_then_test_on_gpu(tool, tiny_config, tmp_path):
    config, work_dir = tiny_config(), tmp_path / "work"
    run = tool("tools/train.py", config, "--work-dir", work_dir, "--amp")
    assert run.returncode == 0, run.stderr[-3000:]
    assert torch.load(work_dir / "iter_3.pth", weights_only=True)["meta"]["iter"] == 3
    run = tool("tools/test.py", config, work_dir / "iter_3.pth", "--work-dir", tmp_path / "test")
    assert run.returncode == 0, run.stderr[-3000:]


def test_dist_train_on_gpu_uses_nccl_and_device_ids(tool, tiny_config, tmp_path):
    (tmp_path / "record_runtime.py").write_text(RECORD_HOOK)
    config = tiny_config(
        **{
            "custom_imports.imports": ["mmdet_evonorm", "record_runtime"],
            "custom_hooks": [dict(type="RecordRuntimeHook")],
        }
    )
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    work_dir = tmp_path / "work"
    env = {"PYTHONPATH": str(tmp_path), "PORT": str(port)}
    run = tool("tools/dist_train.sh", config, 1, "--work-dir", work_dir, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    info = json.loads((work_dir / "runtime.json").read_text())
    assert info == dict(backend="nccl", device_ids=[0], device="cuda:0")
