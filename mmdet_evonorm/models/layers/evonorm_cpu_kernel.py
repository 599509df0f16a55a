"""Fused CPU kernels of EvoNorm-S0, compiled at first use and called via ctypes.

Plain PyTorch needs about ten element-wise passes for EvoNorm-S0's backward; the
C kernels in ``csrc/`` do forward in two passes and backward in two over each
(sample, group) block while it sits in cache (``docs/benchmarks.md``). They are
plain C with no torch headers, so the compile is quick (well under a second
with gcc), done once per process into a temporary folder that is removed right
after loading, so nothing is cached on disk and a stale or foreign-CPU build can
never be picked up.

Whenever the kernels cannot be used (no C compiler, a failed compile, a
non-CPU tensor, a dtype other than float32/float64, ``torch.jit`` tracing, or the
environment variable ``MMDET_EVONORM_CPU_KERNEL=0``), :mod:`.evonorm_function` computes the same
maths with PyTorch operations; a failed build is reported once as a warning.
"""

from __future__ import annotations

import ctypes
import functools
import os
import shutil
import subprocess
import tempfile
import warnings
from pathlib import Path
from typing import Tuple

import torch
from torch import Tensor

_SOURCE = Path(__file__).with_name("csrc") / "evonorm_s0.c"
# Tried in order; later sets drop flags a compiler may not know (no OpenMP only
# means one thread).
_FLAG_SETS = (("-fopenmp", "-march=native"), ("-fopenmp",), ())
_SUFFIX = {torch.float32: "f32", torch.float64: "f64"}
# Elements per thread (about half a millisecond of work) below which another
# thread costs more than it saves: on a CPU shared with other processes a
# worker thread that wakes late costs a scheduler time slice (measured: the
# 512x1024 FC case took 1.8 ms on one thread, over 20 ms on two).
_GRAIN = 1 << 19
_P, _I = ctypes.c_void_p, ctypes.c_int64
_ARGTYPES = {
    "forward": [_P] * 7 + [_I] * 4 + [ctypes.c_double, ctypes.c_int],
    "backward": [_P] * 12 + [_I] * 4 + [ctypes.c_int],
}


def _compile(workdir: str) -> Tuple[Path | None, str]:
    """Compile the kernels into ``workdir``; return the library path or the error."""
    compiler = shutil.which(os.environ.get("CC", "cc"))
    if compiler is None:
        return None, "no C compiler found (set CC)"
    lib, error = Path(workdir) / "evonorm_s0.so", ""
    for flags in _FLAG_SETS:
        cmd = [compiler, "-O3", "-fPIC", "-shared", *flags, str(_SOURCE), "-o", str(lib)]
        try:
            proc = subprocess.run([*cmd, "-lm"], capture_output=True, text=True, timeout=120)
        except (OSError, subprocess.SubprocessError) as exc:
            return None, str(exc)
        if proc.returncode == 0:
            return lib, ""
        error = proc.stderr.strip()
    return None, error


@functools.cache
def load_kernels() -> ctypes.CDLL | None:
    """Build and load the kernels once per process; ``None`` if unavailable."""
    if os.environ.get("MMDET_EVONORM_CPU_KERNEL", "1") == "0":
        return None
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as workdir:
        lib, error = _compile(workdir)
        try:
            dll = ctypes.CDLL(str(lib)) if lib else None
        except OSError as exc:
            dll, error = None, str(exc)
    if dll is None:
        reason = (error.splitlines() or ["unknown error"])[-1]
        warnings.warn(
            f"EvoNormS0: CPU kernels unavailable ({reason}); using the slower PyTorch path",
            stacklevel=2,
        )
        return None
    for name, argtypes in _ARGTYPES.items():
        for suffix in _SUFFIX.values():
            getattr(dll, f"evonorm_s0_{name}_{suffix}").argtypes = argtypes
    return dll


def supports(x: Tensor) -> bool:
    """Whether the kernels can run on ``x`` (contiguity is handled by the caller).

    Not while ``torch.jit`` traces (e.g. mmengine's ``FlopAnalyzer``): a ctypes
    call is invisible to the trace, so the PyTorch path is recorded instead.
    """
    return (
        x.device.type == "cpu"
        and x.dtype in _SUFFIX
        and not torch.jit.is_tracing()
        and load_kernels() is not None
    )


def _call(name: str, dtype: torch.dtype, *args) -> None:
    """Run kernel ``name`` on tensors (passed as pointers) and scalar arguments."""
    for a in args:  # the C code trusts its pointers: check what they point at
        if isinstance(a, Tensor) and not (
            a.dtype == dtype and a.device.type == "cpu" and a.is_contiguous()
        ):
            raise ValueError(f"EvoNormS0 kernel {name}: needs contiguous CPU {dtype} tensors")
    fn = getattr(load_kernels(), f"evonorm_s0_{name}_{_SUFFIX[dtype]}")
    fn(*(a.data_ptr() if isinstance(a, Tensor) else a for a in args))


def _threads(x: Tensor) -> int:
    return max(1, min(torch.get_num_threads(), x.numel() // _GRAIN))


def forward(
    x: Tensor, weight: Tensor, bias: Tensor, v: Tensor, groups: int, eps: float
) -> Tuple[Tensor, Tensor, Tensor]:
    """Kernel version of :func:`.evonorm_function.torch_forward` (same contract)."""
    n, c, length = x.shape
    y = torch.empty_like(x)
    mean, rstd = x.new_empty(n, groups), x.new_empty(n, groups)
    _call("forward", x.dtype, x, weight, bias, v, y, mean, rstd, n, c, length,
          groups, eps, _threads(x))  # fmt: skip
    return y, mean, rstd


def backward(
    x: Tensor, dy: Tensor, weight: Tensor, v: Tensor, mean: Tensor, rstd: Tensor
) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
    """Kernel version of :func:`.evonorm_function.torch_backward` (same contract)."""
    n, c, length = x.shape
    dx = torch.empty_like(x)
    dw, db, dv = (weight.new_empty(c) for _ in range(3))
    scratch = x.new_empty(3, n, c)
    acc = torch.zeros(3, c, dtype=torch.float64)  # float64 in both precisions
    _call("backward", x.dtype, x, dy, weight, v, mean, rstd, dx, dw, db, dv, scratch,
          acc.data_ptr(), n, c, length, mean.shape[1], _threads(x))  # fmt: skip
    return dx, dw, db, dv
