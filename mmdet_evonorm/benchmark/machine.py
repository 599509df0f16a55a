"""The machine a figure was measured on, and its load while it was."""

from __future__ import annotations

import os
import platform
import time

import torch

#: CPU features that decide how fast vectorised kernels run, as /proc/cpuinfo names them.
SIMD_FLAGS = ("avx2", "fma", "avx512f")


def machine_description(device: torch.device | str = "cpu") -> str:
    """One line: CPU (with its SIMD flags) or GPU model, threads, torch and Python versions."""
    device = torch.device(device)
    if device.type == "cuda":
        where = f"{torch.cuda.get_device_name(device)} (CUDA {torch.version.cuda})"
    else:
        model = _cpuinfo("model name") or platform.processor() or "unknown CPU"
        where = f"{model} ({cpu_simd()}), {os.cpu_count()} logical CPUs"
    return (
        f"{where}; torch {torch.__version__}, intra-op threads: {torch.get_num_threads()}; "
        f"Python {platform.python_version()}"
    )


def _cpuinfo(name: str) -> str | None:
    try:
        with open("/proc/cpuinfo") as f:
            return next(line.split(":", 1)[1].strip() for line in f if line.startswith(name))
    except (OSError, StopIteration):
        return None


def cpu_simd() -> str:
    """Which of :data:`SIMD_FLAGS` the CPU has, e.g. ``avx2 fma, no avx512f``."""
    flags = set((_cpuinfo("flags") or "").split())
    if not flags:
        return "CPU flags unknown"
    has, lacks = ([f for f in SIMD_FLAGS if (f in flags) == want] for want in (True, False))
    return " ".join(has) + (f", no {' '.join(lacks)}" if lacks else "")


class LoadMeter:
    """CPU share this process got and the machine's load from the meter's creation on."""

    def __init__(self) -> None:
        self.wall, self.cpu, self.load = (
            time.perf_counter(),
            time.process_time(),
            os.getloadavg()[0],
        )

    def machine_was_shared(self) -> bool:
        return max(self.load, os.getloadavg()[0]) > (os.cpu_count() or 1)

    def summary(self) -> str:
        """The span in one sentence, and a warning when other processes shared the CPUs."""
        wall = time.perf_counter() - self.wall
        cores = (time.process_time() - self.cpu) / wall
        shared = (
            " **Other processes were using the CPUs during this run** (load above their "
            "count): wall times are inflated and noisy; compare CPU times and same-round ratios."
        )
        return (
            f"wall {wall / 60:.1f} min; this process used {cores:.2f} CPU cores on average "
            f"(intra-op threads: {torch.get_num_threads()}); 1-min load average "
            f"{self.load:.1f} at the start, {os.getloadavg()[0]:.1f} at the end "
            f"({os.cpu_count()} logical CPUs).{shared if self.machine_was_shared() else ''}"
        )
