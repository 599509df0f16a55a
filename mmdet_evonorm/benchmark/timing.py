"""The clock, the rotated rounds and the statistics every benchmark shares.

On a GPU the judged time is CUDA events around the call, on a CPU the CPU time of this
process (it hardly depends on other processes' load); the wall clock is kept too.
Subjects take turns in rotated rounds, so a change of load hits them alike, and are
compared by same-round ratios (docs/benchmarks.md).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from typing import NamedTuple

import torch

median = statistics.median


class Sample(NamedTuple):
    """Seconds of one call: wall clock (CUDA events on a GPU) and CPU time of this process."""

    wall: float
    cpu: float


class Series(NamedTuple):
    """Seconds of one step, one entry per timed round."""

    wall: list[float]
    cpu: list[float]


def judged(device: torch.device | str) -> str:
    """The :class:`Sample` field that decides on ``device``: CUDA events or CPU time."""
    return "wall" if torch.device(device).type == "cuda" else "cpu"


def clock_label(device: torch.device | str, clock: str | None = None) -> str:
    """What ``clock`` ('wall' or 'cpu'; default: :func:`judged`) measures on ``device``."""
    if (clock or judged(device)) == "cpu":
        return "CPU time of this process"
    return "GPU time (CUDA events)" if judged(device) == "wall" else "wall-clock time"


def time_call(fn: Callable[[], object], device: torch.device | str) -> Sample:
    """The :class:`Sample` of one ``fn()`` on ``device``."""
    cuda = judged(device) == "wall"
    if cuda:
        torch.cuda.synchronize(device)
        start, end = (torch.cuda.Event(enable_timing=True) for _ in range(2))
        start.record()
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    if cuda:
        end.record()
        end.synchronize()
        seconds = start.elapsed_time(end) / 1e3
    else:
        seconds = time.perf_counter() - wall
    return Sample(seconds, time.process_time() - cpu)


def rotated_rounds(
    subjects: dict[str, dict[str, Callable[[], object]]],
    device: torch.device | str,
    warmup: int,
    rounds: int,
    progress: Callable[[str], None] | None = None,
) -> dict[str, dict[str, Series]]:
    """``{subject: {step: Series}}`` over ``warmup`` untimed and ``rounds`` timed rounds;
    in round ``i`` every subject runs its steps in order, starting with subject ``i``."""
    times = {name: {step: Series([], []) for step in steps} for name, steps in subjects.items()}
    names = list(subjects)
    for index in range(warmup + rounds):
        tag = "warm-up" if index < warmup else f"round {index - warmup + 1}/{rounds}"
        shift = index % len(names)
        for name in names[shift:] + names[:shift]:
            samples = {step: time_call(fn, device) for step, fn in subjects[name].items()}
            for step, sample in samples.items() if index >= warmup else ():
                times[name][step].wall.append(sample.wall)
                times[name][step].cpu.append(sample.cpu)
            if progress:
                steps = (
                    f"{k} {s.wall * 1e3:.1f} ms (CPU {s.cpu * 1e3:.1f} ms)"
                    for k, s in samples.items()
                )
                progress(f"{tag} {name}: {', '.join(steps)}")
    return times


def median_ratio(times: Sequence[float], reference: Sequence[float]) -> float:
    """Median over rounds of ``times[i] / reference[i]`` (same-round ratios)."""
    return median(t / r for t, r in zip(times, reference, strict=True))


def compare(
    times: dict[str, dict[str, Series]], reference: str, device: torch.device | str
) -> dict[str, dict[str, dict[str, float]]]:
    """``{subject: {step: {'median', 'min', 'ratio'}}}`` in seconds on the :func:`judged`
    clock; ``ratio``: :func:`median_ratio` to the ``reference`` subject's same step."""
    clock = judged(device)

    def stats(series: Series, base: Series) -> dict[str, float]:
        values = getattr(series, clock)
        return dict(
            median=median(values), min=min(values), ratio=median_ratio(values, getattr(base, clock))
        )

    return {
        name: {step: stats(series, times[reference][step]) for step, series in steps.items()}
        for name, steps in times.items()
    }
