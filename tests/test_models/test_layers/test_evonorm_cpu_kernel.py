"""Building and guarding EvoNorm-S0's CPU kernels, and the fallback without them."""

import pytest
import torch

from mmdet_evonorm.models.layers import EvoNormS0, evonorm_cpu_kernel


@pytest.fixture
def fresh_build(monkeypatch):
    """Forget the loaded kernels before and after the test (the next use rebuilds)."""
    evonorm_cpu_kernel.load_kernels.cache_clear()
    yield monkeypatch
    monkeypatch.undo()
    evonorm_cpu_kernel.load_kernels.cache_clear()


def test_no_compiler_warns_and_falls_back(fresh_build):
    fresh_build.setenv("CC", "/nonexistent/cc")
    with pytest.warns(UserWarning, match="CPU kernels unavailable .*no C compiler"):
        assert evonorm_cpu_kernel.load_kernels() is None
    x = torch.randn(2, 32, 4, 4, requires_grad=True)
    assert not evonorm_cpu_kernel.supports(x)
    EvoNormS0(32, groups=8)(x).sum().backward()  # the PyTorch path
    assert x.grad.shape == x.shape


def test_torch_backend_never_builds_the_kernels(fresh_build, recwarn):
    fresh_build.setenv("MMDET_EVONORM_BACKEND", "torch")
    x = torch.randn(2, 32, 4, 4, requires_grad=True)
    EvoNormS0(32, groups=8)(x).sum().backward()
    assert evonorm_cpu_kernel.load_kernels.cache_info().misses == 0
    assert not recwarn.list  # a deliberate choice is not warned about


def test_supports_only_cpu_float32_float64():
    if evonorm_cpu_kernel.load_kernels() is None:
        pytest.skip("C kernels unavailable here")
    assert evonorm_cpu_kernel.supports(torch.zeros(1, dtype=torch.float32))
    assert evonorm_cpu_kernel.supports(torch.zeros(1, dtype=torch.float64))
    assert not evonorm_cpu_kernel.supports(torch.zeros(1, dtype=torch.bfloat16))
    assert not evonorm_cpu_kernel.supports(torch.zeros(1, device="meta"))


def test_kernel_rejects_tensors_it_cannot_address():
    if evonorm_cpu_kernel.load_kernels() is None:
        pytest.skip("C kernels unavailable here")
    x = torch.randn(2, 8, 6).transpose(1, 2).contiguous().transpose(1, 2)  # not contiguous
    params = [torch.ones(8), torch.zeros(8), torch.ones(8)]
    with pytest.raises(ValueError, match="contiguous CPU torch.float32"):
        evonorm_cpu_kernel.forward(x, *params, 4, 1e-5)
    with pytest.raises(ValueError, match="contiguous CPU torch.float32"):
        evonorm_cpu_kernel.forward(x.contiguous(), torch.ones(8).double(), *params[1:], 4, 1e-5)


def test_jit_trace_records_a_working_graph():
    """torch.jit tracing (mmengine's FlopAnalyzer) takes the PyTorch path."""
    torch.manual_seed(0)
    layer = EvoNormS0(16, groups=4)
    with torch.no_grad():
        layer.v.normal_()
    with pytest.warns(torch.jit.TracerWarning):
        traced = torch.jit.trace(layer, (torch.randn(2, 16, 5, 5),))
    x = torch.randn(3, 16, 5, 5)
    torch.testing.assert_close(traced(x), layer(x))
