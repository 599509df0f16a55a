"""Intra-op threads from the free cores; OMP_NUM_THREADS or --threads override."""

from __future__ import annotations

import pytest
import torch

from mmdet_evonorm.engine import threads


@pytest.fixture
def machine(monkeypatch):
    """Four usable cores, ``busy`` of them kept busy by other work; torch's count restored."""
    before = torch.get_num_threads()
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(threads, "usable_cores", lambda: 4)

    def set_busy(busy: float) -> None:
        monkeypatch.setattr(threads, "busy_cores", lambda interval=0.5: busy)

    yield set_busy
    torch.set_num_threads(before)


@pytest.mark.parametrize(
    "busy, runs, expected", [(0.0, 1, 4), (1.1, 1, 3), (2.6, 1, 1), (0.2, 2, 2), (3.9, 2, 1)]
)
def test_free_cores_divided_by_runs(machine, monkeypatch, busy, runs, expected):
    machine(busy)
    lines = []
    assert threads.choose_threads(runs, log=lines.append) == expected
    assert torch.get_num_threads() == expected
    assert threads.os.environ["OMP_NUM_THREADS"] == str(expected)  # inherited by children
    assert len(lines) == 1 and f"{expected} intra-op thread(s) per run" in lines[0]
    assert f"{max(1, 4 - round(busy))} of 4 cores free" in lines[0]


def test_environment_and_option_override(machine, monkeypatch):
    machine(3.0)
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    lines = []
    assert threads.choose_threads(1, log=lines.append) == 2 and "OMP_NUM_THREADS" in lines[0]
    assert threads.choose_threads(1, requested=3, log=lines.append) == 3
    assert "--threads" in lines[1]


def test_busy_cores_reads_the_machine():
    busy = threads.busy_cores(0.05)
    assert 0.0 <= busy <= threads.os.cpu_count()
