"""mmdet_evonorm.benchmark.timing: the clock, the rotated rounds, the statistics."""

from __future__ import annotations

import time

import pytest
import torch

from mmdet_evonorm.benchmark.timing import (
    Series,
    clock_label,
    compare,
    judged,
    median,
    median_ratio,
    rotated_rounds,
    time_call,
)


def test_time_call_counts_cpu_time_and_wall_time_on_cpu():
    sample = time_call(lambda: time.sleep(0.2), "cpu")
    assert sample.cpu < 0.1  # sleeping uses no CPU
    assert sample.wall >= 0.2
    assert judged("cpu") == "cpu" and clock_label("cpu") == "CPU time of this process"
    assert clock_label("cpu", "wall") == "wall-clock time"


def test_rotated_rounds_rotates_subjects_runs_steps_in_order_and_drops_warmup():
    log = []
    subjects = {n: {s: (lambda n=n, s=s: log.append(n + s)) for s in "12"} for n in "abc"}
    progress = []
    times = rotated_rounds(subjects, "cpu", warmup=1, rounds=2, progress=progress.append)
    starts = [log[i][0] for i in range(0, len(log), 6)]
    assert starts == ["a", "b", "c"]  # each round starts one subject later
    assert log[:6] == ["a1", "a2", "b1", "b2", "c1", "c2"]
    assert {n: {s: len(t.cpu) for s, t in steps.items()} for n, steps in times.items()} == {
        n: {"1": 2, "2": 2} for n in "abc"
    }
    assert all(len(t.wall) == 2 for steps in times.values() for t in steps.values())
    assert progress[0].startswith("warm-up a: 1 ") and progress[3].startswith("round 1/2 b: 1 ")


def test_median_and_same_round_ratios():
    assert median([3.0, 1.0, 2.0, 10.0]) == 2.5
    assert median_ratio([2.0, 9.0, 3.0], [1.0, 3.0, 3.0]) == 2.0  # median of 2, 3, 1
    with pytest.raises(ValueError):
        median_ratio([1.0], [1.0, 2.0])


def test_compare_uses_the_judged_clock_and_same_round_ratios():
    times = {
        "ref": {"fwd": Series(wall=[9.0, 9.0, 9.0], cpu=[1.0, 2.0, 4.0])},
        "new": {"fwd": Series(wall=[1.0, 1.0, 1.0], cpu=[2.0, 2.0, 2.0])},
    }
    stats = compare(times, "ref", "cpu")
    assert stats["new"]["fwd"] == dict(median=2.0, min=2.0, ratio=1.0)  # ratios 2, 1, 0.5
    assert stats["ref"]["fwd"] == dict(median=2.0, min=1.0, ratio=1.0)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_time_call_uses_cuda_events_on_a_gpu():
    x = torch.randn(2048, 2048, device="cuda")
    sample = time_call(lambda: x @ x, "cuda")
    assert sample.wall > 0 and judged("cuda") == "wall"
    assert clock_label("cuda") == "GPU time (CUDA events)"
