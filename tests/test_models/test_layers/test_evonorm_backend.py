"""``MMDET_EVONORM_BACKEND``: which back end runs EvoNormS0Function, and its errors."""

from __future__ import annotations

import shutil

import pytest
import torch

from mmdet_evonorm.models.layers import EvoNormS0, evonorm_cpu_kernel, evonorm_function
from mmdet_evonorm.models.layers.evonorm_function import (
    BACKEND_ENV,
    CPU_BACKEND,
    TORCH_BACKEND,
    select_backend,
)

needs_compiler = pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler")


def triton_module():
    """:mod:`.evonorm_triton` (importing triton), or skip where triton is missing."""
    pytest.importorskip("triton")
    from mmdet_evonorm.models.layers import evonorm_triton

    return evonorm_triton


@needs_compiler
@pytest.mark.parametrize("value", [None, "auto", " Auto ", ""])
def test_auto_on_cpu_takes_the_c_kernels(monkeypatch, value):
    if value is None:
        monkeypatch.delenv(BACKEND_ENV, raising=False)
    else:
        monkeypatch.setenv(BACKEND_ENV, value)
    for dtype in (torch.float32, torch.float64, torch.bfloat16):  # bf16: float32 copy
        assert select_backend(torch.zeros(2, 4, 3, dtype=dtype)) is CPU_BACKEND


def test_auto_without_c_kernels_takes_torch(monkeypatch):
    monkeypatch.setattr(evonorm_cpu_kernel, "load_kernels", lambda: None)
    assert select_backend(torch.zeros(2, 4, 3)) is TORCH_BACKEND
    assert select_backend(torch.zeros(2, 4, 3, device="meta")) is TORCH_BACKEND


@needs_compiler
@pytest.mark.parametrize("name,expected", [("cpu", CPU_BACKEND), ("TORCH", TORCH_BACKEND)])
def test_forced_backend(monkeypatch, name, expected):
    monkeypatch.setenv(BACKEND_ENV, name)
    assert select_backend(torch.zeros(2, 4, 3)) is expected


def test_invalid_value_names_the_variable(monkeypatch):
    monkeypatch.setenv(BACKEND_ENV, "cuda")
    with pytest.raises(ValueError, match=rf"{BACKEND_ENV}='cuda' is not one of auto, triton"):
        EvoNormS0(8, groups=2)(torch.randn(2, 8, 3, 3))


def test_forced_cpu_on_another_device_raises(monkeypatch):
    monkeypatch.setenv(BACKEND_ENV, "cpu")
    with pytest.raises(RuntimeError, match=rf"{BACKEND_ENV}=cpu: .*take CPU tensors, got a meta"):
        select_backend(torch.zeros(2, 4, 3, device="meta"))


def test_forced_cpu_without_compiler_raises(monkeypatch):
    evonorm_cpu_kernel.load_kernels.cache_clear()
    monkeypatch.setenv("CC", "/nonexistent/cc")
    monkeypatch.setenv(BACKEND_ENV, "cpu")
    try:
        with (
            pytest.warns(UserWarning, match="no C compiler"),
            pytest.raises(RuntimeError, match="C kernels could not be built"),
        ):
            EvoNormS0(8, groups=2)(torch.randn(2, 8, 3, 3))
    finally:
        monkeypatch.undo()
        evonorm_cpu_kernel.load_kernels.cache_clear()


def test_forced_triton_rejects_float64(monkeypatch):
    triton_module()
    monkeypatch.setenv(BACKEND_ENV, "triton")
    with pytest.raises(RuntimeError, match=rf"{BACKEND_ENV}=triton: .*float64 is not supported"):
        EvoNormS0(8, groups=2).double()(torch.randn(2, 8, 3, 3, dtype=torch.float64))


def test_forced_triton_on_cpu_needs_the_interpreter(monkeypatch):
    evonorm_triton = triton_module()
    if evonorm_triton.interpreted():
        pytest.skip("triton was imported under TRITON_INTERPRET=1 here")
    monkeypatch.setenv(BACKEND_ENV, "triton")
    with pytest.raises(RuntimeError, match="set TRITON_INTERPRET=1 before triton is first"):
        EvoNormS0(8, groups=2)(torch.randn(2, 8, 3, 3))


def test_forced_triton_without_triton_raises(monkeypatch):
    evonorm_triton = triton_module()
    monkeypatch.setattr(evonorm_triton, "_IMPORT_ERROR", "triton is not importable (test)")
    monkeypatch.setenv(BACKEND_ENV, "triton")
    with pytest.raises(RuntimeError, match=r"=triton: .*triton is not importable \(test\)"):
        select_backend(torch.zeros(2, 4, 3))


@pytest.mark.parametrize("name", ["cpu", "triton"])
@pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning")
def test_jit_trace_records_the_pytorch_path(monkeypatch, name):
    """Even a forced back end: a kernel launch would be invisible to the trace."""
    monkeypatch.setenv(BACKEND_ENV, name)
    layer = EvoNormS0(8, groups=2)
    traced = torch.jit.trace(layer, (torch.randn(2, 8, 3, 3),), check_trace=False)
    (function,) = (n for n in traced.graph.nodes() if n.kind() == "prim::PythonOp")
    recorded = {n.kind() for n in function.g("Subgraph").nodes()}
    assert {"aten::var_mean", "aten::sigmoid", "aten::rsqrt"} <= recorded


def test_backward_uses_the_forward_backend(monkeypatch):
    calls = []
    spy = evonorm_function.Backend(
        "spy",
        evonorm_function.torch_forward,
        lambda *args: calls.append("backward") or evonorm_function.torch_backward(*args),
        False,
    )
    monkeypatch.setattr(evonorm_function, "select_backend", lambda x: spy)
    x = torch.randn(2, 8, 3, 3, requires_grad=True)
    y = EvoNormS0(8, groups=2)(x)
    monkeypatch.setenv(BACKEND_ENV, "bogus")  # read at forward only
    y.sum().backward()
    assert calls == ["backward"]


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_auto_on_cuda(monkeypatch):
    evonorm_triton = triton_module()
    monkeypatch.delenv(BACKEND_ENV, raising=False)
    for dtype in evonorm_triton.DTYPES:
        assert select_backend(torch.zeros(2, 4, 3, device="cuda", dtype=dtype)).name == "triton"
    assert select_backend(torch.zeros(2, 4, 3, device="cuda").double()) is TORCH_BACKEND
    monkeypatch.setenv(BACKEND_ENV, "cpu")
    with pytest.raises(RuntimeError, match="take CPU tensors, got a cuda"):
        select_backend(torch.zeros(2, 4, 3, device="cuda"))
