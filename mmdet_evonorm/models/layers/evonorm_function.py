"""EvoNorm-S0 as a memory-lean autograd function (group statistics first).

Liu et al. 2020, "Evolving Normalization-Activation Layers" (arXiv:2004.02967),
S0 variant, as vghost2008/wml1 ``wnnlayer.py`` @911cd7b computes it (docs/original.md,
"EvoNorm-S0"). For x viewed as
[N, C, L] (L = H * W, or 1 for a 2-D input) with G groups of c = C / G channels:

.. code-block:: none

    x [N, C, L] --view--> [N, G, c * L] --(population var, mean per n, g)-->
    rstd [N, G] = 1 / sqrt(var + eps)
    y = x * sigmoid(v * x) * (weight * rstd) + bias      (v, weight, bias: [C])

Autograd through the plain formula (timm's EvoNorm2dS0) keeps about 2.5
input-sized tensors for the backward pass. This function keeps only x and the
per-group (mean, rstd) and recomputes sigmoid(v * x) in backward: one
input-sized tensor (GroupNorm + ReLU keeps two). The gradients, with
s = sigmoid(v * x) and M = c * L:

.. code-block:: none

    P[n, ch] = sum_L dy * x * s        Q[n, ch] = sum_L dy * x^2 * s * (1 - s)
    dweight  = sum_n P * rstd          dv = weight * sum_n Q * rstd
    dbias    = sum_n,L dy
    dx = dy * weight * rstd * s * (1 + v * x * (1 - s))
         - rstd^3 / M * (sum_(ch in g) weight * P) * (x - mean)

Statistics and arithmetic run in float32 for float16 / bfloat16 inputs (float64
stays float64) and the result is cast back to the input dtype.

Three back ends compute the same quantities; ``MMDET_EVONORM_BACKEND`` picks one
at every call (so a test or benchmark can switch it in-process):

.. code-block:: none

    auto (default)  CUDA tensor, triton importable, float32/16/bf16 -> triton
                    CPU tensor, C kernels built                     -> cpu
                    anything else (e.g. float64 on CUDA)            -> torch
    triton          Triton kernels (:mod:`.evonorm_triton`), on CUDA tensors,
                    or on CPU ones under TRITON_INTERPRET=1 (how CI tests them)
    cpu             fused C kernels (:mod:`.evonorm_cpu_kernel`), CPU tensors
    torch           the PyTorch functions below, anywhere

A forced back end that cannot run on the input (``triton`` on float64 or without
triton, ``cpu`` on a CUDA tensor or without a C compiler, ...) raises a
``RuntimeError`` saying why; it never falls back. While ``torch.jit`` traces
(mmengine's ``FlopAnalyzer``), every setting uses the PyTorch functions: a
kernel launch would be invisible to the trace. A non-contiguous input is copied
to a contiguous one once; that copy is what the backward keeps.
"""

from __future__ import annotations

import math
import os
from typing import Callable, NamedTuple, Tuple

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from . import evonorm_cpu_kernel


def torch_forward(
    x: Tensor, weight: Tensor, bias: Tensor, v: Tensor, groups: int, eps: float
) -> Tuple[Tensor, Tensor, Tensor]:
    """Forward with PyTorch operations.

    Args:
        x (Tensor): Input [N, C, L], contiguous, in the compute dtype.
        weight, bias, v (Tensor): Parameters [C] in the compute dtype.
        groups (int): Number of groups G, dividing C.
        eps (float): Added to the variance.

    Returns:
        tuple[Tensor]: Output [N, C, L], per-group mean and rstd [N, G].
    """
    n, c, length = x.shape
    var, mean = torch.var_mean(x.view(n, groups, c // groups * length), dim=2, unbiased=False)
    rstd = (var + eps).rsqrt()
    xg = x.view(n, groups, c // groups, length)
    scale = weight.view(groups, -1, 1) * rstd[..., None, None]
    y = torch.sigmoid(xg * v.view(groups, -1, 1)).mul_(xg).mul_(scale)
    return y.add_(bias.view(groups, -1, 1)).view(n, c, length), mean, rstd


def torch_backward(
    x: Tensor, dy: Tensor, weight: Tensor, v: Tensor, mean: Tensor, rstd: Tensor
) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
    """Backward with PyTorch operations (module docstring for the formulas).

    Args:
        x, dy (Tensor): Input and output gradient [N, C, L], contiguous.
        weight, v (Tensor): Parameters [C].
        mean, rstd (Tensor): Per-group statistics [N, G] from the forward.

    Returns:
        tuple[Tensor]: Gradients of x [N, C, L] and of weight, bias, v [C].
    """
    n, c, length = x.shape
    groups = mean.shape[1]
    xg, dyg = (t.view(n, groups, c // groups, length) for t in (x, dy))
    vg, wg = v.view(groups, -1, 1), weight.view(groups, -1, 1)
    rstd4 = rstd[..., None, None]
    s = torch.sigmoid(xg * vg)
    dy_xs = (dyg * xg).mul_(s)
    p = dy_xs.sum(-1)  # [N, G, c]
    x_1ms = (1 - s).mul_(xg)  # x (1 - s)
    q = dy_xs.mul_(x_1ms).sum(-1)
    coef = (p * wg[..., 0]).sum(-1)[..., None, None] * rstd4**3 / (c // groups * length)
    # dx = dy * w * rstd * s * (1 + v x (1 - s)) - coef * (x - mean), in place
    dx = x_1ms.mul_(vg).add_(1).mul_(s).mul_(dyg).mul_(wg * rstd4)
    dx.addcmul_(xg, coef, value=-1).add_(coef * mean[..., None, None])
    dw = (p * rstd[..., None]).sum(0).flatten()
    dv = (q * rstd[..., None]).sum(0).flatten() * weight
    return dx.view(n, c, length), dw, dy.sum((0, 2)), dv


#: Environment variable naming the back end (module docstring).
BACKEND_ENV = "MMDET_EVONORM_BACKEND"
BACKENDS = ("auto", "triton", "cpu", "torch")


class Backend(NamedTuple):
    """A back end's forward and backward (the contract of :func:`torch_forward` /
    :func:`torch_backward`); a ``native`` one takes float16/bfloat16 x and dy as they
    are and returns y / dx in that dtype, the others get float32 copies."""

    name: str
    forward: Callable
    backward: Callable
    native: bool


TORCH_BACKEND = Backend("torch", torch_forward, torch_backward, False)
CPU_BACKEND = Backend("cpu", evonorm_cpu_kernel.forward, evonorm_cpu_kernel.backward, False)


def _triton_module():
    """:mod:`.evonorm_triton`, imported at first use (CPU runs never import triton)."""
    from . import evonorm_triton

    return evonorm_triton


def _unavailable(name: str, x: Tensor) -> str | None:
    """Why back end ``name`` (triton or cpu) cannot run on ``x``; None if it can."""
    if name == "triton":
        return _triton_module().unavailable_reason(x)
    if x.device.type != "cpu":
        return f"the C kernels take CPU tensors, got a {x.device.type} tensor"
    if evonorm_cpu_kernel.load_kernels() is None:
        return "the C kernels could not be built (see the warning above)"
    return None


def select_backend(x: Tensor) -> Backend:
    """The back end for input ``x`` under :data:`BACKEND_ENV` (module docstring).

    Raises:
        ValueError: The variable is set to a value not in :data:`BACKENDS`.
        RuntimeError: The back end it forces cannot run on ``x``.
    """
    raw = os.environ.get(BACKEND_ENV, "auto")
    name = raw.strip().lower() or "auto"
    if name not in BACKENDS:
        raise ValueError(f"{BACKEND_ENV}={raw!r} is not one of {', '.join(BACKENDS)}")
    if name == "torch" or torch.jit.is_tracing():
        return TORCH_BACKEND
    if name == "auto":
        want = "triton" if x.device.type == "cuda" else "cpu"
        return TORCH_BACKEND if _unavailable(want, x) else _backend(want)
    reason = _unavailable(name, x)
    if reason:
        raise RuntimeError(
            f"{BACKEND_ENV}={name}: cannot run on this {x.dtype} {x.device.type} input: "
            f"{reason}. Use {BACKEND_ENV}=auto (or torch) to let another back end run it"
        )
    return _backend(name)


def _backend(name: str) -> Backend:
    if name == "cpu":
        return CPU_BACKEND
    module = _triton_module()
    return Backend("triton", module.forward, module.backward, True)


class EvoNormS0Function(torch.autograd.Function):
    """Autograd function of EvoNorm-S0 on x [N, C, L] (module docstring)."""

    @staticmethod
    def forward(
        ctx, x: Tensor, weight: Tensor, bias: Tensor, v: Tensor, groups: int, eps: float
    ) -> Tensor:
        backend = select_backend(x)
        dtype = torch.promote_types(x.dtype, torch.float32)
        w, b, vc = (t.to(dtype).contiguous() for t in (weight, bias, v))
        xc = (x if backend.native else x.to(dtype)).contiguous()
        if xc.numel() == 0:  # zero RoIs: rstd = 1 keeps the zero gradients finite
            n = xc.shape[0]
            y, mean = xc.clone(), xc.new_zeros(n, groups, dtype=dtype)
            rstd = xc.new_ones(n, groups, dtype=dtype)
        else:
            y, mean, rstd = backend.forward(xc, w, b, vc, groups, eps)
        # x is kept in its own dtype (half the bytes of a float32 copy for bf16),
        # contiguous (the copy of a non-contiguous x is made once, here).
        ctx.save_for_backward(xc if xc.dtype == x.dtype else x, w, vc, mean, rstd)
        ctx.param_dtypes = (weight.dtype, bias.dtype, v.dtype)
        ctx.backend = backend
        return y.to(x.dtype)

    @staticmethod
    @once_differentiable
    def backward(ctx, dy: Tensor) -> Tuple[Tensor | None, ...]:
        x, w, v, mean, rstd = ctx.saved_tensors
        backend = TORCH_BACKEND if x.numel() == 0 else ctx.backend
        dtype = x.dtype if backend.native else w.dtype
        xc = x.to(dtype).contiguous()
        dyc = dy.to(dtype).contiguous()
        dx, *grads = backend.backward(xc, dyc, w, v, mean, rstd)
        dw, db, dv = (g.to(t) for g, t in zip(grads, ctx.param_dtypes, strict=True))
        return dx.to(x.dtype), dw, db, dv, None, None


def evonorm_s0(
    x: Tensor, weight: Tensor, bias: Tensor, v: Tensor, groups: int, eps: float
) -> Tensor:
    """EvoNorm-S0 of ``x`` [N, C, *] (module docstring); output has x's shape and dtype.

    ``groups`` must divide C; autocast is the caller's business (the function
    itself never lowers the precision below float32).
    """
    n, c, length = x.shape[0], x.shape[1], math.prod(x.shape[2:])
    y = EvoNormS0Function.apply(x.reshape(n, c, length), weight, bias, v, groups, eps)
    return y.view(x.shape)
