"""How many intra-op threads a CPU run should use: the cores that are free now.

torch starts one OpenMP thread per core. On a machine where another process keeps a
core busy (a compile, a second run), those threads wait for each other at every
parallel region, and a step can take several times longer than on one thread alone
(docs/quickstart.md has the measurement). So CPU runs take their thread count from
the cores that are idle when they start::

    busy  = cores' busy time over 0.5 s (/proc/stat) / 0.5 s      e.g. 1.0 (a compile)
    free  = usable cores (sched_getaffinity) - round(busy)          e.g. 2 - 1 = 1
    threads per run = max(1, free // runs at once)

``OMP_NUM_THREADS`` or an explicit count (``--threads``) overrides the choice; the
choice is logged in one line either way.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

#: ``/proc/stat`` columns of a ``cpu`` line that count as idle: idle, iowait.
_IDLE_COLUMNS = (3, 4)


def _cpu_times() -> tuple[int, int] | None:
    """(total, idle) jiffies of all CPUs, or None where ``/proc/stat`` is absent."""
    try:
        with open("/proc/stat") as stat:
            fields = [int(v) for v in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    return sum(fields[:8]), sum(fields[i] for i in _IDLE_COLUMNS)


def usable_cores() -> int:
    """Cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def busy_cores(interval: float = 0.5) -> float:
    """How many cores of the machine other work kept busy over ``interval`` seconds."""
    before = _cpu_times()
    time.sleep(interval)
    after = _cpu_times()
    if before is None or after is None or after[0] == before[0]:
        return 0.0
    total, idle = after[0] - before[0], after[1] - before[1]
    return (total - idle) / total * (os.cpu_count() or 1)


def choose_threads(
    runs: int = 1, requested: int | None = None, log: Callable[[str], None] = print
) -> int:
    """Threads per run: ``requested``, else ``OMP_NUM_THREADS``, else the free cores.

    Sets ``OMP_NUM_THREADS`` (inherited by child processes) and torch's intra-op
    thread count of this process, and logs the choice in one line.
    """
    import torch

    env = os.environ.get("OMP_NUM_THREADS", "")
    if requested is not None:
        threads, why = requested, "--threads"
    elif env.isdigit() and int(env) > 0:
        threads, why = int(env), "OMP_NUM_THREADS"
    else:
        cores, busy = usable_cores(), busy_cores()
        free = max(1, cores - round(busy))
        threads = max(1, free // runs)
        why = (
            f"{free} of {cores} cores free (busy {busy:.1f}), {runs} run(s) at once; "
            "--threads or OMP_NUM_THREADS overrides"
        )
    os.environ["OMP_NUM_THREADS"] = str(threads)
    torch.set_num_threads(threads)
    log(f"threads: {threads} intra-op thread(s) per run ({why})")
    return threads
