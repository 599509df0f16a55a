"""EvoNorm-S0's Triton kernels (``evonorm_triton``) against the float64 formula and the C kernels.

Every check runs with ``MMDET_EVONORM_BACKEND=triton`` on two devices:

* ``interp``: CPU tensors under Triton's interpreter. It must be on before triton is
  first imported, so in the normal test run :func:`test_interpreter_child` reruns
  this file in a child pytest with ``TRITON_INTERPRET=1`` (and
  ``MMDET_EVONORM_KERNELS_ONLY=1``: nothing here needs mmcv or mmdet), where the
  cases are parametrised with ``interp`` instead of ``cuda``.
* ``cuda`` (marked ``gpu``): the compiled kernels, where CUDA is available.

The interpreter runs each program in Python, about 10^4 times slower than eager,
so the shapes are tiny; :data:`SMALL` lowers the block sizes so that the split
paths (a group or channel row larger than one program's block) run on them.

Tolerances: float32 output within rtol = atol = 1e-5 and gradients within
rtol = 1e-4, atol = 1e-5 of the float64 reference (as the C kernels' own test);
float16 / bfloat16 y and dx within a few roundings of their dtype.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from mmdet_evonorm.models.layers import EvoNormS0, evonorm_triton
from mmdet_evonorm.models.layers.evonorm_function import BACKEND_ENV

REPO = Path(__file__).resolve().parents[3]
#: Block sizes small enough that the split paths run on the shapes below.
SMALL = evonorm_triton.Tiling(tile=16, chunk=32, fused_max=16, max_splits=64)
#: (rtol, atol) for y / dx in each input dtype; parameter gradients are float32.
TOLERANCE = {
    torch.float32: (1e-5, 1e-5),
    torch.float16: (2e-3, 2e-3),
    torch.bfloat16: (1.6e-2, 1e-2),
}
GRAD_TOLERANCE = (1e-4, 1e-5)
# name: (input shape, groups of the layer, tiling)
CASES = {
    "fused": ((3, 8, 3, 5), 4, None),  # several whole groups per program
    "split": ((2, 8, 7, 9), 2, SMALL),  # groups and rows split over programs
    "hw1": ((150, 16, 1, 1), 2, None),  # H * W = 1; N > one block of the dweight sums
    "roi": ((40, 16, 7, 7), 4, None),  # many small groups, several per program
    "2d": ((5, 12), 3, SMALL),  # [N, C] input, L = 1
    "c48": ((2, 48, 2, 3), 32, SMALL),  # 32 groups fall back to 24
    "big_group": ((1, 1, 96, 96), 1, None),  # default tiling: 9216 > one block, two chunks
}


# The interpreter process tests CPU tensors only; any other tests CUDA ones.
DEVICES = (
    [pytest.param("cpu", id="interp")]
    if evonorm_triton.interpreted()
    else [pytest.param("cuda", marks=pytest.mark.gpu)]
)


@pytest.fixture(params=DEVICES)
def device(request, monkeypatch) -> torch.device:
    """The device to test the kernels on, with the triton back end forced."""
    if request.param == "cuda" and not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    reason = evonorm_triton.unavailable_reason(torch.empty(0, device=request.param))
    if reason:
        pytest.skip(reason)
    monkeypatch.setenv(BACKEND_ENV, "triton")
    return torch.device(request.param)


def random_layer(channels: int, groups: int, device) -> EvoNormS0:
    layer = EvoNormS0(channels, groups=groups).to(device)
    with torch.no_grad():
        layer.weight.uniform_(0.5, 1.5)
        layer.bias.normal_()
        layer.v.normal_()
    return layer


def layer_outputs(layer: EvoNormS0, x: torch.Tensor, dy: torch.Tensor) -> tuple:
    """y and the gradients of x, weight, bias and v for output gradient dy."""
    x = x.detach().requires_grad_()
    y = layer(x)
    grads = torch.autograd.grad(y, (x, layer.weight, layer.bias, layer.v), dy)
    return (y.detach(), *grads)


def float64_reference(layer: EvoNormS0, x: torch.Tensor, dy: torch.Tensor) -> tuple:
    """Autograd of EvoNorm-S0's formula (docs/original.md) in float64 on CPU, for the
    same (rounded) x, dy."""
    x64 = x.detach().cpu().double().requires_grad_()
    params = [p.detach().cpu().double().requires_grad_() for p in layer.parameters()]
    n, c = x64.shape[:2]
    shape = (1, c) + (1,) * (x64.dim() - 2)
    var = x64.reshape(n, layer.groups, -1).var(-1, unbiased=False)
    std = (var + layer.eps).sqrt().repeat_interleave(c // layer.groups, 1).view(n, *shape[1:])
    w, b, v = (p.view(shape) for p in params)
    y = x64 * torch.sigmoid(v * x64) / std * w + b
    return (y.detach(), *torch.autograd.grad(y, (x64, *params), dy.cpu().double()))


def assert_matches(got: tuple, want: tuple, dtype: torch.dtype) -> None:
    for i, (a, b) in enumerate(zip(got, want, strict=True)):
        rtol, atol = TOLERANCE[dtype] if i < 2 else GRAD_TOLERANCE  # y, dx in x's dtype
        torch.testing.assert_close(a.cpu().double(), b.cpu().double(), rtol=rtol, atol=atol)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
@pytest.mark.parametrize("case", list(CASES))
def test_matches_float64_reference_and_c_kernel(device, monkeypatch, case, dtype):
    shape, groups, tiling = CASES[case]
    monkeypatch.setattr(evonorm_triton, "TILING", tiling or evonorm_triton.Tiling())
    torch.manual_seed(0)
    layer = random_layer(shape[1], groups, device)
    x = (torch.randn(shape) * 2 + 0.5).to(device, dtype)
    dy = torch.randn(shape).to(device, dtype)
    got = layer_outputs(layer, x, dy)
    assert got[0].dtype == got[1].dtype == dtype and got[2].dtype == torch.float32
    assert_matches(got, float64_reference(layer, x, dy), dtype)
    if shutil.which(os.environ.get("CC", "cc")) is None:
        pytest.skip("no C compiler for the C-kernel half of the comparison")
    monkeypatch.setenv(BACKEND_ENV, "cpu")
    layer_cpu = layer.cpu()
    c_kernel = layer_outputs(layer_cpu, x.cpu().float(), dy.cpu().float())
    assert_matches(got, c_kernel, dtype)


def test_kernels_return_the_torch_statistics(device):
    """The direct contract: y, mean, rstd and the four gradients on the split paths."""
    from mmdet_evonorm.models.layers.evonorm_function import torch_backward, torch_forward

    torch.manual_seed(0)
    x = torch.randn(2, 6, 11, device=device) * 3 - 1
    dy = torch.randn_like(x)
    w, b, v = torch.rand(6, device=device) + 0.5, *torch.randn(2, 6, device=device)
    want = torch_forward(x, w, b, v, 2, 1e-5)
    got = evonorm_triton.forward(x, w, b, v, 2, 1e-5, SMALL)
    for a, e in zip(got, want, strict=True):
        torch.testing.assert_close(a, e, rtol=1e-5, atol=1e-5)
    grads = evonorm_triton.backward(x, dy, w, v, *got[1:], SMALL)
    for a, e in zip(grads, torch_backward(x, dy, w, v, *want[1:]), strict=True):
        torch.testing.assert_close(a, e, rtol=1e-4, atol=1e-5)


def test_float32_is_bit_identical_run_to_run(device, monkeypatch):
    monkeypatch.setattr(evonorm_triton, "TILING", SMALL)
    torch.manual_seed(0)
    layer = random_layer(8, 2, device)
    x, dy = torch.randn(2, 2, 8, 7, 9, device=device).unbind(0)
    first, second = (layer_outputs(layer, x, dy) for _ in range(2))
    assert all(torch.equal(a, b) for a, b in zip(first, second, strict=True))


@pytest.mark.parametrize("shape", [(0, 16, 3, 3), (0, 16), (2, 16, 0, 4)])
def test_empty_input(device, shape):
    layer = random_layer(16, 4, device)
    x = torch.zeros(shape, device=device)
    y, dx, *grads = layer_outputs(layer, x, torch.ones_like(x))
    assert y.shape == dx.shape == x.shape
    assert all(torch.equal(g, torch.zeros_like(g)) for g in grads)


def test_non_contiguous_input(device, monkeypatch):
    monkeypatch.setattr(evonorm_triton, "TILING", SMALL)
    torch.manual_seed(0)
    layer = random_layer(8, 2, device)
    x, dy = torch.randn(2, 2, 8, 5, 3, device=device).unbind(0)
    want = layer_outputs(layer, x, dy)
    cl = torch.channels_last
    got = layer_outputs(layer, x.to(memory_format=cl), dy.to(memory_format=cl))
    assert all(torch.equal(a, b) for a, b in zip(got, want, strict=True))


def test_interpreter_child():
    """The ``interp`` cases of this file, in a child process with TRITON_INTERPRET=1."""
    pytest.importorskip("triton")
    if evonorm_triton.interpreted():
        pytest.skip("this is the child")
    env = {k: v for k, v in os.environ.items() if k != BACKEND_ENV}
    env.update(TRITON_INTERPRET="1", MMDET_EVONORM_KERNELS_ONLY="1", OMP_NUM_THREADS="1")
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "-W", "ignore::UserWarning", str(Path(__file__).relative_to(REPO))],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    summary = run.stdout.strip().splitlines()[-1] if run.stdout.strip() else ""
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-3000:]
    passed = re.search(r"(\d+) passed", summary)
    assert passed and int(passed[1]) >= len(CASES) * 3, summary
    print(f"TRITON_INTERPRET=1 child: {summary}")
