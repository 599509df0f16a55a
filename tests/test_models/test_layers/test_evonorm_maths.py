"""EvoNorm-S0 maths: NumPy float64 reference, timm, gradcheck, AMP, edge cases.

Every check runs on both back ends of ``EvoNormS0Function``: the fused CPU
kernels and the PyTorch operations used where the kernels are unavailable.
"""

import os
import shutil
import sys

import numpy as np
import pytest
import torch

from mmdet_evonorm.models.layers import EvoNormS0, evonorm_cpu_kernel, evonorm_function
from mmdet_evonorm.models.layers.timm_reference import load_timm_evonorm2d_s0


@pytest.fixture(params=["cpu", "torch"], autouse=True)
def backend(request, monkeypatch):
    """Run each test on the C kernels and on the PyTorch functions (forced back end)."""
    if request.param == "cpu":
        if shutil.which(os.environ.get("CC", "cc")) is None:
            pytest.skip("no C compiler: the CPU kernels cannot be built here")
        assert evonorm_cpu_kernel.load_kernels() is not None, "C kernels did not build"
    monkeypatch.setenv(evonorm_function.BACKEND_ENV, request.param)
    return request.param


def numpy_evonorm_s0(x, weight, bias, v, groups, eps=1e-5):
    """docs/original.md in float64: x * sigmoid(v x) / sqrt(group population var + eps) * w + b."""
    x = np.asarray(x, np.float64)
    n, c = x.shape[:2]
    x3 = x.reshape(n, c, -1)
    var = x3.reshape(n, groups, -1).var(axis=2)
    std = np.sqrt(var + eps).repeat(c // groups, axis=1)[..., None]
    gate = 1.0 / (1.0 + np.exp(-np.asarray(v, np.float64)[:, None] * x3))
    y = x3 * gate / std * np.asarray(weight)[:, None] + np.asarray(bias)[:, None]
    return y.reshape(x.shape)


def random_layer(channels, dtype=torch.float32, **kwargs):
    """An EvoNormS0 with non-trivial parameters."""
    layer = EvoNormS0(channels, **kwargs).to(dtype)
    with torch.no_grad():
        layer.weight.uniform_(0.5, 1.5)
        layer.bias.normal_()
        if layer.v is not None:
            layer.v.normal_()
    return layer


def expected_groups(channels, groups=32):
    """Largest group count <= groups dividing C (TF reference fallback)."""
    return max(g for g in range(1, min(groups, channels) + 1) if channels % g == 0)


def params_np(layer):
    return [p.detach().numpy() for p in (layer.weight, layer.bias, layer.v)]


def test_matches_numpy_reference_on_random_shapes():
    torch.manual_seed(0)
    gen = np.random.default_rng(0)
    # C=48, 40, 100, 7, 1: the group count falls back (or clamps) from 32.
    for channels in (64, 48, 40, 100, 7, 1):
        layer = random_layer(channels)
        assert layer.groups == expected_groups(channels)
        for spatial in ((), tuple(gen.integers(1, 10, size=2))):
            x = torch.randn(int(gen.integers(1, 4)), channels, *spatial) * 3 + 1
            ref = numpy_evonorm_s0(x.numpy(), *params_np(layer), layer.groups)
            out = layer(x)
            assert out.shape == x.shape and out.dtype == x.dtype
            np.testing.assert_allclose(out.detach().numpy(), ref, rtol=1e-5, atol=1e-5)


def test_float32_gradients_match_float64_autograd():
    """The float32 kernels (own sigmoid) against autograd of the float64 formula."""
    torch.manual_seed(0)
    layer = random_layer(48, groups=8)
    x = (torch.randn(3, 48, 6, 5) * 2 + 0.5).requires_grad_()
    grad_out = torch.randn_like(x)
    grads = torch.autograd.grad(layer(x), (x, *layer.parameters()), grad_out)

    ref_layer = random_layer(48, torch.float64, groups=8)
    ref_layer.load_state_dict(layer.state_dict())
    x64 = x.detach().double().requires_grad_()
    n, c = x64.shape[:2]
    var = x64.reshape(n, 8, -1).var(-1, unbiased=False)
    std = (var + 1e-5).sqrt().repeat_interleave(c // 8, 1)[..., None, None]
    w, b, v = (p[:, None, None] for p in ref_layer.parameters())
    ref = x64 * torch.sigmoid(v * x64) / std * w + b
    ref_grads = torch.autograd.grad(ref, (x64, *ref_layer.parameters()), grad_out.double())
    for got, want in zip(grads, ref_grads, strict=True):
        torch.testing.assert_close(got.double(), want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("shape,groups", [((2, 8, 3, 4), 4), ((3, 12), 3), ((2, 6, 5, 1), 1)])
def test_gradcheck_float64(shape, groups):
    torch.manual_seed(0)
    layer = random_layer(shape[1], torch.float64, groups=groups)
    x = torch.randn(*shape, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda inp, *p: layer(inp), (x, *layer.parameters()))


def test_matches_timm_evonorm2d_s0():
    timm_cls = load_timm_evonorm2d_s0()
    if timm_cls is None:
        pytest.skip("timm is not installed (test-only: pip install --no-deps timm==1.0.31)")
    assert not any(k.partition(".")[0] == "timm" for k in sys.modules)
    torch.manual_seed(0)
    for channels, groups, size in ((64, 32, (9, 7)), (32, 8, (5, 5)), (96, 32, (1, 3))):
        ours = random_layer(channels, groups=groups)
        theirs = timm_cls(channels, groups=groups, eps=1e-5)
        theirs.load_state_dict(ours.state_dict())
        x = torch.randn(2, channels, *size, requires_grad=True)
        y_ours, y_theirs = ours(x), theirs(x)
        torch.testing.assert_close(y_ours, y_theirs, rtol=0, atol=1e-5)
        grad_out = torch.randn_like(y_ours)
        g_ours = torch.autograd.grad(y_ours, (x, *ours.parameters()), grad_out)
        g_theirs = torch.autograd.grad(y_theirs, (x, *theirs.parameters()), grad_out)
        for a, b in zip(g_ours, g_theirs, strict=True):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)


def test_bf16_autocast_close_to_fp32():
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(16, 64, 3, padding=1, bias=False)
    norm = random_layer(64)
    x = torch.randn(2, 16, 8, 8)
    y32 = norm(conv(x))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        feat = conv(x)
        y16 = norm(feat)
    assert feat.dtype == y16.dtype == torch.bfloat16
    torch.testing.assert_close(y16.float(), y32, rtol=3e-2, atol=3e-2)
    # Statistics in float32: the bf16 result is the fp32 maths on the bf16 input,
    # rounded once at the end.
    torch.testing.assert_close(y16, norm(feat.float()).to(torch.bfloat16), rtol=0, atol=0)
    y16.float().sum().backward()
    assert norm.weight.grad.dtype == torch.float32
    assert torch.isfinite(norm.v.grad).all()


@pytest.mark.parametrize("shape", [(0, 64, 7, 7), (0, 1024), (2, 64, 0, 5)])
def test_empty_batch_forward_backward(shape):
    layer = EvoNormS0(shape[1])
    x = torch.zeros(shape, requires_grad=True)
    y = layer(x)
    assert y.shape == x.shape
    y.sum().backward()
    assert x.grad.shape == x.shape
    for p in layer.parameters():  # zero, not None: DDP sees every parameter used
        assert torch.equal(p.grad, torch.zeros_like(p))


def test_samples_independent_and_train_eval_equal():
    torch.manual_seed(0)
    layer = random_layer(32, groups=4)
    x = torch.randn(3, 32, 5, 5)
    y = layer.train()(x)
    torch.testing.assert_close(layer.eval()(x), y, rtol=0, atol=0)
    x2 = x.clone()
    x2[1] = x2[1] * 10 + 3
    y2 = layer(x2)
    torch.testing.assert_close(y2[[0, 2]], y[[0, 2]], rtol=0, atol=0)
    assert not torch.allclose(y2[1], y[1])


def test_apply_act_false_is_affine_only():
    layer = EvoNormS0(16, apply_act=False)
    assert layer.v is None and len(list(layer.parameters())) == 2
    with torch.no_grad():
        layer.weight.uniform_(0.5, 1.5)
        layer.bias.normal_()
    x = torch.randn(2, 16, 3, 3)
    expected = x * layer.weight[:, None, None] + layer.bias[:, None, None]
    torch.testing.assert_close(layer(x), expected)


def test_non_contiguous_input_and_thread_count():
    torch.manual_seed(0)
    layer = random_layer(32, groups=8)
    x = torch.randn(2, 32, 128, 128)  # big enough for the kernels to use >1 thread
    y = layer(x)
    torch.testing.assert_close(layer(x.to(memory_format=torch.channels_last)), y)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        torch.testing.assert_close(layer(x), y, rtol=0, atol=0)
    finally:
        torch.set_num_threads(threads)


def test_bad_input_shape_is_rejected():
    with pytest.raises(ValueError, match=r"expected input \[N, 8\]"):
        EvoNormS0(8)(torch.randn(2, 4, 3, 3))
