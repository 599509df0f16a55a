"""Every Triton launch of EvoNorm-S0 runs under the input's CUDA device.

Triton launches on the *current* CUDA device, so a tensor on cuda:1 while cuda:0 is
current needs ``torch.cuda.device(x.device)`` around its launches.

* CPU: the kernels are replaced by recorders and the guard by a recording context;
  on every launch path (one-pass, split with one chunk per row and with several,
  forward and backward) each launch happens inside the guard entered with the
  input's device, with the plan's grid, constexprs and warps, and with the pointer
  dtypes that the sm_80 / sm_90 compile check binds.
* 2+ GPUs (marked ``gpu``): the kernels on cuda:1 while cuda:0 is current match
  PyTorch's functions.
"""

from __future__ import annotations

import contextlib
import inspect
from typing import NamedTuple

import pytest
import torch

pytest.importorskip("triton")

from mmdet_evonorm.models.layers import evonorm_triton  # noqa: E402
from mmdet_evonorm.models.layers.evonorm_function import (  # noqa: E402
    torch_backward,
    torch_forward,
)
from mmdet_evonorm.models.layers.evonorm_triton_compile import IO_POINTERS  # noqa: E402

SMALL = evonorm_triton.Tiling(tile=16, chunk=32, fused_max=16, max_splits=64)
# name: (x shape [N, C, L], groups, tiling)
PATHS = {
    "fused": ((40, 16, 49), 4, None),
    "split_one_chunk": ((2, 8, 20), 2, SMALL),  # every row in one chunk: no partial sums
    "split_chunks": ((2, 8, 63), 2, SMALL),  # rows in two chunks, groups in eight
}
KERNELS = (
    "_fused_forward", "_fused_backward", "_stats_partial", "_stats_combine", "_apply",
    "_bwd_partials", "_bwd_coef", "_bwd_params", "_bwd_dx",
)  # fmt: skip


class Call(NamedTuple):
    kernel: str
    device: torch.device | None  # the one the guard had entered, None outside it
    grid: tuple
    args: tuple
    meta: dict


class Recorder:
    """A recording device guard and kernels that record their launches."""

    def __init__(self) -> None:
        self.device = None
        self.entered: list = []
        self.calls: list[Call] = []

    @contextlib.contextmanager
    def guard(self, device: torch.device):
        outer, self.device = self.device, device
        self.entered.append(device)
        try:
            yield
        finally:
            self.device = outer

    def kernel(self, name: str):
        recorder = self

        class Kernel:
            def __getitem__(self, grid):
                def launch(*args, **meta):
                    recorder.calls.append(Call(name, recorder.device, grid, args, meta))

                return launch

        return Kernel()


def run_paths(monkeypatch, path: str, dtype: torch.dtype) -> tuple:
    """(recorder, planned launches, x, each kernel's argument names) after one forward and
    backward with the kernels and the guard replaced by the recorder."""
    recorder = Recorder()
    arg_names = {
        name: list(inspect.signature(getattr(evonorm_triton, name).fn).parameters)
        for name in KERNELS
    }
    monkeypatch.setattr(evonorm_triton, "_on_device", recorder.guard)
    for name in KERNELS:
        monkeypatch.setattr(evonorm_triton, name, recorder.kernel(name))
    shape, groups, tiling = PATHS[path]
    x = torch.randn(shape).to(dtype)
    w, b, v = torch.ones(3, shape[1]).unbind(0)
    _, mean, rstd = evonorm_triton.forward(x, w, b, v, groups, 1e-5, tiling)
    evonorm_triton.backward(x, torch.ones_like(x), w, v, mean, rstd, tiling)
    plans = (
        evonorm_triton.forward_plan(shape, groups, 1e-5, tiling),
        evonorm_triton.backward_plan(shape, groups, tiling),
    )
    return recorder, [launch for plan in plans for launch in plan.values()], x, arg_names


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("path", list(PATHS))
def test_every_launch_runs_inside_the_guard_of_the_input_device(monkeypatch, path, dtype):
    recorder, planned, x, arg_names = run_paths(monkeypatch, path, dtype)
    assert len(recorder.calls) == len(planned) >= 2
    assert recorder.entered == [x.device, x.device]  # forward, backward: once each
    for call, launch in zip(recorder.calls, planned, strict=True):
        assert call.device == x.device, f"{call.kernel} launched outside the device guard"
        assert launch.kernel is getattr(evonorm_triton, call.kernel)
        assert call.grid == launch.grid
        assert call.meta == dict(launch.constexprs, num_warps=launch.num_warps)
        tensors = call.args[: len(call.args) - len(launch.scalars)]
        assert call.args[len(tensors) :] == launch.scalars
        names = arg_names[call.kernel][: len(tensors)]
        for name, tensor in zip(names, tensors, strict=True):
            want = x.dtype if name in IO_POINTERS else torch.float32
            assert tensor.dtype == want, f"{call.kernel}.{name}: {tensor.dtype}"
    fused = path == "fused"
    assert ("_fused_forward" in {c.kernel for c in recorder.calls}) == fused


def test_cuda_tensors_enter_their_own_device():
    guard = evonorm_triton._on_device(torch.device("cuda", 1))
    assert isinstance(guard, torch.cuda.device) and guard.idx == 1
    assert isinstance(evonorm_triton._on_device(torch.device("cpu")), contextlib.nullcontext)


@pytest.mark.gpu
@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs 2 CUDA devices")
@pytest.mark.parametrize("path", list(PATHS))
def test_second_gpu_while_the_first_is_current(path):
    device = torch.device("cuda", 1)
    reason = evonorm_triton.unavailable_reason(torch.empty(0, device=device))
    if reason:
        pytest.skip(reason)
    shape, groups, tiling = PATHS[path]
    torch.manual_seed(0)
    x, dy = (torch.randn(shape, device=device) for _ in range(2))
    w, b, v = torch.rand(shape[1], device=device) + 0.5, *torch.randn(2, shape[1], device=device)
    with torch.cuda.device(0):
        got = evonorm_triton.forward(x, w, b, v, groups, 1e-5, tiling)
        grads = evonorm_triton.backward(x, dy, w, v, *got[1:], tiling)
        assert torch.cuda.current_device() == 0
    torch.cuda.synchronize(device)
    want = torch_forward(x, w, b, v, groups, 1e-5)
    for a, e in zip(got, want, strict=True):
        assert a.device == device
        torch.testing.assert_close(a, e, rtol=1e-5, atol=1e-5)
    for a, e in zip(grads, torch_backward(x, dy, w, v, *want[1:]), strict=True):
        torch.testing.assert_close(a, e, rtol=1e-4, atol=1e-5)
