"""The machine a figure was measured on, and its load while it was."""

from __future__ import annotations

import os
import platform
import time
from dataclasses import dataclass

import torch

#: CPU features that decide how fast vectorised kernels run, as /proc/cpuinfo names them.
SIMD_FLAGS = ("avx2", "fma", "avx512f")


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

    def machine_was_shared(self) -> bool:
        return max(self.start_load, os.getloadavg()[0]) > (os.cpu_count() or 1)

    def summary(self) -> str:
        """The span in one sentence, and a warning when other processes shared the CPUs."""
        wall = time.perf_counter() - self.start_wall
        cores = (time.process_time() - self.start_cpu) / wall
        shared = (
            " **Other processes were using the CPUs during this run** (load above their "
            "count): wall times are inflated and noisy; compare CPU times and same-round "
            "ratios."
        )
        return (
            f"wall {wall / 60:.1f} min; this process used {cores:.2f} CPU cores on average "
            f"(intra-op threads: {torch.get_num_threads()}); 1-min load average "
            f"{self.start_load:.1f} at the start, {os.getloadavg()[0]:.1f} at the end "
            f"({os.cpu_count()} logical CPUs).{shared if self.machine_was_shared() else ''}"
        )
