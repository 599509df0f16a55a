"""Fused CPU kernels of EvoNorm-S0, compiled at first use and called via ctypes.

Plain PyTorch needs about ten element-wise passes for EvoNorm-S0's backward; the
C kernels in ``csrc/`` do forward in two passes and backward in two over each
(sample, group) block while it sits in cache (``docs/benchmarks.md``). They are
plain C with no torch headers, so the compile is quick (well under a second
with gcc), done once per process into a temporary folder that is removed right
after loading, so nothing is cached on disk and a stale or foreign-CPU build can
never be picked up.

Whenever the kernels cannot be used (no C compiler, a failed compile, a
non-CPU tensor, ``torch.jit`` tracing), :mod:`.evonorm_function` computes the
same maths with PyTorch operations under ``MMDET_EVONORM_BACKEND=auto`` and
raises under ``=cpu``; ``=torch`` never builds them. A failed build is reported
once as a warning.

The element loops must compile to packed SIMD (the sigmoid is written for it,
see ``csrc/evonorm_s0.c``). With gcc, the build reads the compiler's own
vectorisation report and warns once, naming the loops, if any stayed scalar, so
a change of source, flags or compiler cannot silently make the kernels several
times slower; :data:`last_build` records the command and the result.
"""

from __future__ import annotations

import ctypes
import functools
import os
import re
import shlex
import shutil
import subprocess
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import List, Tuple

import torch
from torch import Tensor

_SOURCE = Path(__file__).with_name("csrc") / "evonorm_s0.c"
_HEADER = _SOURCE.with_name("evonorm_s0_impl.h")
# Flags of every build. -fno-trapping-math lets the compiler turn the sigmoid's
# compare-selects into vector blends: without it gcc 12 leaves the element loops
# scalar on AVX2 (AVX-512's masks hide the problem), several times slower.
_BASE_FLAGS = ("-O3", "-fno-trapping-math", "-fPIC", "-shared")
#: Environment variable of extra compiler flags, added after the others (e.g.
#: ``-mno-avx512f`` to build and time the AVX2 code on an AVX-512 machine).
CFLAGS_ENV = "MMDET_EVONORM_CFLAGS"
# Tried in order; later sets drop flags a compiler may not know (no OpenMP only
# means one thread; -fopenmp-simd keeps the `omp simd` loop hints).
_FLAG_SETS = (("-fopenmp", "-march=native"), ("-fopenmp",), ("-fopenmp-simd",), ())
_REPORT_LINE = re.compile(
    r"evonorm_s0_impl\.h\[(f32|f64)\]:(\d+):\d+: "
    r"(optimized: loop vectorized|missed: couldn't vectorize loop)"
)
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


@dataclass(frozen=True)
class Build:
    """How the kernels were compiled, and whether the element loops vectorised.

    Attributes:
        command: Compiler and flags.
        scalar_loops: The element loops (``#pragma omp simd`` in
            ``csrc/evonorm_s0_impl.h``) that gcc's vectorisation report
            (``-fopt-info-vec``) does not show as vectorised, as
            ``evonorm_s0_impl.h[f32]:LINE``; None when the compiler is not gcc
            (no report to read).
    """

    command: str
    scalar_loops: Tuple[str, ...] | None

    def describe(self) -> str:
        if self.scalar_loops is None:
            checked = "vectorisation not checked (needs gcc's report)"
        elif self.scalar_loops:
            checked = f"NOT vectorised: {', '.join(self.scalar_loops)}"
        else:
            checked = "all element loops vectorised (gcc report)"
        return f"`{self.command}`; {checked}"


#: The last successful build of this process (None before the first).
last_build: Build | None = None


def _compile(workdir: str) -> Tuple[Path | None, str]:
    """Compile the kernels into ``workdir``; return the library path or the error.

    With gcc, the vectorisation report is checked once, here: a warning names
    any element loop left scalar (:class:`Build`).
    """
    global last_build
    compiler = shutil.which(os.environ.get("CC", "cc"))
    if compiler is None:
        return None, "no C compiler found (set CC)"
    lib, error = Path(workdir) / "evonorm_s0.so", ""
    extra = shlex.split(os.environ.get(CFLAGS_ENV, ""))
    report = Path(workdir) / "vectorised.txt"
    report_flags = (f"-fopt-info-vec-optimized-missed={report}",) if _is_gcc(compiler) else ()
    for flags in _FLAG_SETS:
        cmd = [compiler, *_BASE_FLAGS, *flags, *extra, str(_SOURCE), "-o", str(lib), "-lm"]
        try:
            proc = subprocess.run(
                [*cmd, *report_flags], capture_output=True, text=True, timeout=120
            )
        except (OSError, subprocess.SubprocessError) as exc:
            return None, str(exc)
        if proc.returncode == 0:
            text = report.read_text() if report.exists() else ""  # gcc writes no empty report
            scalar = scalar_loops(text, _HEADER.read_text()) if report_flags else None
            last_build = Build(" ".join([Path(compiler).name, *cmd[1:-4]]), scalar)
            if scalar:
                warnings.warn(
                    f"EvoNormS0: the CPU kernels' element loops {', '.join(scalar)} were "
                    f"not vectorised by `{last_build.command}`; expect several times "
                    "GroupNorm's time (docs/benchmarks.md)",
                    stacklevel=3,
                )
            return lib, ""
        error = proc.stderr.strip()
    return None, error


def _is_gcc(compiler: str) -> bool:
    try:
        proc = subprocess.run([compiler, "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return False
    return "Free Software Foundation" in proc.stdout and "clang" not in proc.stdout


def simd_loops(header: str) -> List[Tuple[int, int]]:
    """First and last line (1-based) of every ``#pragma omp simd`` loop in ``header``."""
    lines = header.splitlines()
    loops = []
    for first, line in enumerate(lines):
        if not line.strip().startswith("#pragma omp simd"):
            continue
        depth, last = 0, first + 1
        while True:  # to the end of the loop's statement or block
            depth += lines[last].count("{") - lines[last].count("}")
            if depth == 0 and lines[last].rstrip().endswith((";", "}")):
                break
            last += 1
        loops.append((first + 1, last + 1))
    return loops


def scalar_loops(report: str, header: str) -> Tuple[str, ...]:
    """The ``simd_loops`` of ``header`` that gcc's ``report`` does not show as
    vectorised in one of the precisions, as ``evonorm_s0_impl.h[f32]:LINE``.

    A loop counts as vectorised if the report has a "loop vectorized" line and no
    "couldn't vectorize loop" line within its lines (gcc reports an ``omp simd``
    reduction loop twice, once at the pragma and once in the body, and either can
    fail). The header names itself per precision in the compiler's messages (its
    ``#line`` directive), so a loop left scalar in one precision only is caught.
    """
    seen: dict = {}
    for m in _REPORT_LINE.finditer(report):
        seen.setdefault((m[1], int(m[2])), set()).add(m[3].startswith("optimized"))
    scalar = []
    for first, last in simd_loops(header):
        for p in _SUFFIX.values():
            found = set().union(*(seen.get((p, line), set()) for line in range(first, last + 1)))
            if found != {True}:
                scalar.append(f"evonorm_s0_impl.h[{p}]:{first}")
    return tuple(scalar)


@functools.cache
def load_kernels() -> ctypes.CDLL | None:
    """Build and load the kernels once per process; ``None`` if unavailable."""
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
