"""The CPU kernels' vectorisation check: gcc's report, read once per build."""

import shutil
import subprocess
import warnings

import pytest

from mmdet_evonorm.models.layers import evonorm_cpu_kernel

HEADER = """\
void f(float *y, const float *x, int n) {
#pragma omp simd
  for (int i = 0; i < n; ++i) y[i] = x[i];
  float s = 0;
#pragma omp simd reduction(+ : s)
  for (int i = 0; i < n; ++i) {
    s += x[i];
  }
}
"""


def report(*entries: str) -> str:
    """gcc -fopt-info lines for (precision, line, verdict) entries like 'f32:3:ok'."""
    text = {"ok": "optimized: loop vectorized using 32 byte vectors",
            "missed": "missed: couldn't vectorize loop"}  # fmt: skip
    lines = []
    for entry in entries:
        precision, line, verdict = entry.split(":")
        lines.append(f"evonorm_s0_impl.h[{precision}]:{line}:9: {text[verdict]}")
    return "\n".join(lines)


def test_simd_loops_span_each_loop_statement():
    assert evonorm_cpu_kernel.simd_loops(HEADER) == [(2, 3), (5, 8)]
    real = evonorm_cpu_kernel._HEADER.read_text()
    loops = evonorm_cpu_kernel.simd_loops(real)
    lines = real.splitlines()
    assert len(loops) == sum(ln.lstrip().startswith("#pragma omp simd") for ln in lines) >= 8
    for first, last in loops:
        assert lines[first].lstrip().startswith("for (")
        assert lines[last - 1].rstrip().endswith((";", "}"))


@pytest.mark.parametrize(
    "entries, scalar",
    [
        (("f32:3:ok", "f64:3:ok", "f32:7:ok", "f64:5:ok"), ()),
        # vectorised in float32 only: the float64 loop is named
        (("f32:3:ok", "f32:5:ok", "f64:5:ok"), ("evonorm_s0_impl.h[f64]:2",)),
        # one of the two messages of a reduction loop failed
        (
            ("f32:3:ok", "f64:3:ok", "f32:5:missed", "f32:7:ok", "f64:7:ok"),
            ("evonorm_s0_impl.h[f32]:5",),
        ),  # fmt: skip
        ((), tuple(f"evonorm_s0_impl.h[{p}]:{n}" for n in (2, 5) for p in ("f32", "f64"))),
    ],
)
def test_scalar_loops_names_every_loop_not_vectorised(entries, scalar):
    assert evonorm_cpu_kernel.scalar_loops(report(*entries), HEADER) == scalar


def _gcc() -> str | None:
    cc = shutil.which("cc")
    if cc is None:
        return None
    version = subprocess.run([cc, "--version"], capture_output=True, text=True).stdout
    return cc if "Free Software Foundation" in version else None


needs_gcc = pytest.mark.skipif(_gcc() is None, reason="the check reads gcc's report")


@needs_gcc
def test_default_build_vectorises_every_element_loop(tmp_path, monkeypatch):
    monkeypatch.delenv("CC", raising=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no vectorisation warning
        lib, error = evonorm_cpu_kernel._compile(str(tmp_path))
    assert lib is not None, error
    build = evonorm_cpu_kernel.last_build
    assert build.scalar_loops == ()
    assert "-O3" in build.command and "-fno-trapping-math" in build.command
    assert "all element loops vectorised" in build.describe()


@needs_gcc
@pytest.mark.parametrize("flags", ["-O0", "-march=haswell -ftrapping-math"])
def test_scalar_build_warns_and_names_the_loops(tmp_path, monkeypatch, flags):
    """-O0 vectorises nothing; trapping maths keeps gcc 12 from if-converting the
    sigmoid's selects on AVX2 (the regression this check was written for). The
    flags come in through MMDET_EVONORM_CFLAGS, after (so over) the default ones."""
    monkeypatch.delenv("CC", raising=False)
    monkeypatch.setenv(evonorm_cpu_kernel.CFLAGS_ENV, flags)
    with pytest.warns(
        UserWarning, match=r"element loops evonorm_s0_impl\.h\[f32\]:\d+.*not vectorised"
    ):
        lib, error = evonorm_cpu_kernel._compile(str(tmp_path))
    assert lib is not None, error  # still usable, only slower
    build = evonorm_cpu_kernel.last_build
    assert build.scalar_loops and build.command.endswith(flags)
    assert "NOT vectorised" in build.describe()
