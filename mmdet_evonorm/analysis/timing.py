"""Timing, machine description and tables shared by every benchmark tool.

Needs torch only (no mmdet, mmcv or mmengine), so ``tools/benchmark_norm.py`` runs
before mmcv is built. Device-aware timing:

.. code-block:: none

    cuda  CUDA events around the call on the current stream: the GPU time of the
          work the call queued (plus any gaps where the GPU waited for the host)
    cpu   CPU seconds of this process (all its threads): on a CPU shared with
          other processes this hardly depends on their load, wall time does

:func:`round_robin` lets several candidates take turns, each round starting one
candidate later, so a change of machine load hits them alike; compare them with
:func:`median_ratio` (ratios taken within a round).
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

#: CPU features that decide how fast vectorised kernels run, as /proc/cpuinfo names them.
SIMD_FLAGS = ("avx2", "fma", "avx512f")


def sync(device: torch.device | str) -> None:
    """Wait for queued CUDA work on ``device`` (nothing on CPU)."""
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def clock_label(device: torch.device | str) -> str:
    """What :func:`time_call` measures on ``device``."""
    if torch.device(device).type == "cuda":
        return "GPU time (CUDA events)"
    return "CPU time of this process"


def time_call(fn: Callable[[], object], device: torch.device | str) -> float:
    """Seconds one ``fn()`` takes on ``device`` (module docstring)."""
    device = torch.device(device)
    if device.type == "cuda":
        sync(device)
        start, end = (torch.cuda.Event(enable_timing=True) for _ in range(2))
        start.record()
        fn()
        end.record()
        end.synchronize()
        return start.elapsed_time(end) / 1e3
    start_cpu = time.process_time()
    fn()
    return time.process_time() - start_cpu


def round_robin(
    steps: dict[str, Callable[[], object]],
    device: torch.device | str,
    warmup: int,
    rounds: int,
    progress: Callable[[str], None] | None = None,
) -> dict[str, list[float]]:
    """Seconds per call of every step, ``rounds`` entries each after ``warmup``
    untimed rounds; round ``i`` runs the steps in their order rotated by ``i``."""
    times: dict[str, list[float]] = {name: [] for name in steps}
    names = list(steps)
    for index in range(warmup + rounds):
        shift = index % len(names)
        for name in names[shift:] + names[:shift]:
            elapsed = time_call(steps[name], device)
            if index >= warmup:
                times[name].append(elapsed)
            if progress:
                progress(f"round {index + 1}/{warmup + rounds} {name}: {elapsed * 1e3:.1f} ms")
    return times


def median_ratio(times: list[float], reference: list[float]) -> float:
    """Median over rounds of ``times[i] / reference[i]`` (same-round ratios)."""
    return statistics.median(t / r for t, r in zip(times, reference, strict=True))


def summarize(times: list[float]) -> dict[str, float]:
    return dict(median=statistics.median(times), min=min(times), n=len(times))


def machine_description(device: torch.device | str = "cpu") -> str:
    """One line: CPU (with its SIMD flags) or GPU model, threads, torch and Python versions."""
    device = torch.device(device)
    if device.type == "cuda":
        where = f"{torch.cuda.get_device_name(device)} (CUDA {torch.version.cuda})"
    else:
        where = f"{cpu_model()} ({cpu_simd()}), {os.cpu_count()} logical CPUs"
    return (
        f"{where}; torch {torch.__version__}, intra-op threads: {torch.get_num_threads()}; "
        f"Python {platform.python_version()}"
    )


def _cpuinfo_field(name: str) -> str | None:
    try:
        with open("/proc/cpuinfo") as f:
            return next(line.split(":", 1)[1].strip() for line in f if line.startswith(name))
    except (OSError, StopIteration):
        return None


def cpu_model() -> str:
    return _cpuinfo_field("model name") or platform.processor() or "unknown CPU"


def cpu_simd() -> str:
    """Which of :data:`SIMD_FLAGS` the CPU has, e.g. ``avx2 fma, no avx512f``."""
    flags = set((_cpuinfo_field("flags") or "").split())
    if not flags:
        return "CPU flags unknown"
    has = [f for f in SIMD_FLAGS if f in flags]
    lacks = [f for f in SIMD_FLAGS if f not in flags]
    return " ".join(has) + (f", no {' '.join(lacks)}" if lacks else "")


@dataclass
class LoadMeter:
    """CPU share this process got and the machine's load over a span of time."""

    start_wall: float = 0.0
    start_cpu: float = 0.0
    start_load: float = 0.0

    def start(self) -> LoadMeter:
        self.start_wall, self.start_cpu = time.perf_counter(), time.process_time()
        self.start_load = os.getloadavg()[0]
        return self

    def summary(self) -> str:
        wall = time.perf_counter() - self.start_wall
        cores = (time.process_time() - self.start_cpu) / wall
        return (
            f"wall {wall / 60:.1f} min; this process used {cores:.2f} CPU cores on average "
            f"(intra-op threads: {torch.get_num_threads()}); 1-min load average "
            f"{self.start_load:.1f} at the start, {os.getloadavg()[0]:.1f} at the end "
            f"({os.cpu_count()} logical CPUs)"
        )

    def machine_was_shared(self) -> bool:
        return max(self.start_load, os.getloadavg()[0]) > (os.cpu_count() or 1)


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]], align: str) -> str:
    """A Markdown table; ``align`` has one letter per column, ``l`` or ``r``."""
    if len(align) != len(header):
        raise ValueError(f"align {align!r} needs one letter per column ({len(header)})")
    lines = ["| " + " | ".join(header) + " |"]
    lines.append("|" + "|".join("---" if a == "l" else "---:" for a in align) + "|")
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)
