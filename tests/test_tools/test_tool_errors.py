"""The scripts as a user runs them: bad input and a malicious checkpoint.

Each ends in exactly one ``error:`` line on stderr, status 2, no traceback, and
nothing written.
"""

from __future__ import annotations

import os

import torch
from helpers import single_error_line


def _single_error(run) -> str:
    assert run.returncode == 2, run.stderr[-3000:]
    return single_error_line(run.stderr)


def test_train_with_missing_config(tool, tmp_path):
    run = tool("tools/train.py", tmp_path / "missing.py", "--work-dir", tmp_path / "w")
    assert "missing.py" in _single_error(run)
    assert not (tmp_path / "w").exists()


class _FileCreatingPayload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_test_refuses_malicious_checkpoint_even_if_env_forces_unsafe_loads(
    tool, tiny_config, tmp_path
):
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pth"
    torch.save({"state_dict": {}, "meta": {"x": _FileCreatingPayload(marker)}}, evil)
    env = {"TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD": "1"}
    run = tool("tools/test.py", tiny_config(), evil, "--work-dir", tmp_path / "w", env=env)
    line = _single_error(run)
    assert "weights_only=True" in line and "posix.system" in line
    assert not marker.exists()
    assert not (tmp_path / "w").exists()
