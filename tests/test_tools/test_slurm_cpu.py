"""tools/slurm_train.sh and slurm_test.sh on a CPU-only node, with a stand-in ``srun``.

The stand-in records its options and runs the command as the single task of a
one-node job (the SLURM_* variables srun would set), so the ``--launcher slurm``
path of tools/train.py starts a gloo process group from the slurm environment.
"""

from __future__ import annotations

import os
import socket
import textwrap

import pytest
import torch

FAKE_SRUN = textwrap.dedent(
    """\
    #!/usr/bin/env bash
    echo "$@" >> "$SRUN_LOG"
    while [ $# -gt 0 ]; do
        case "$1" in
            -p) shift 2 ;;
            -*) shift ;;
            *) break ;;
        esac
    done
    SLURM_PROCID=0 SLURM_NTASKS=1 SLURM_LOCALID=0 SLURM_NODELIST=localhost exec "$@"
    """
)


@pytest.mark.slow
@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU (gloo) path")
def test_slurm_scripts_on_a_cpu_node(tool, tiny_config, tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "srun").write_text(FAKE_SRUN)
    (bin_dir / "srun").chmod(0o755)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    srun_log = tmp_path / "srun.log"
    env = dict(
        PATH=f"{bin_dir}:{os.environ['PATH']}",
        SRUN_LOG=str(srun_log),
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        GPUS="1",
        GPUS_PER_NODE="1",
        GRES="",
    )
    config, work_dir = tiny_config(**{"train_cfg.max_iters": 2}), tmp_path / "work"

    run = tool("tools/slurm_train.sh", "cpu", "tiny", config, work_dir, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Distributed launcher: slurm" in run.stdout + run.stderr
    checkpoint = torch.load(work_dir / "iter_2.pth", weights_only=True)
    assert checkpoint["meta"]["iter"] == 2
    options = srun_log.read_text().split()
    assert {"-p", "cpu", "--job-name=tiny", "--ntasks=1", "--kill-on-bad-exit=1"} <= set(options)
    assert not any(option.startswith("--gres") for option in options)

    missing = tmp_path / "missing.pth"
    run = tool("tools/slurm_test.sh", "cpu", "tiny", config, missing, env=env)
    assert run.returncode == 2
    assert f"checkpoint '{missing}' (the checkpoint to test) not found" in run.stderr
