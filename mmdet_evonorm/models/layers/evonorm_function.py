"""EvoNorm-S0 as a memory-lean autograd function (group statistics first).

Liu et al. 2020, "Evolving Normalization-Activation Layers" (arXiv:2004.02967),
S0 variant; semantics in the design notes, SPEC §1.1. For x viewed as
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
stays float64) and the result is cast back to the input dtype. On CPU the fused
C kernels of :mod:`.evonorm_cpu_kernel` do the work; elsewhere (or if they
cannot be built) the PyTorch functions below compute the same quantities.
"""

from __future__ import annotations

import math
from typing import Callable, Tuple

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


def _ops(x: Tensor) -> Tuple[Callable, Callable]:
    """(forward, backward): the fused CPU kernels if they can run on x, else PyTorch's."""
    if evonorm_cpu_kernel.supports(x):
        return evonorm_cpu_kernel.forward, evonorm_cpu_kernel.backward
    return torch_forward, torch_backward


class EvoNormS0Function(torch.autograd.Function):
    """Autograd function of EvoNorm-S0 on x [N, C, L] (module docstring)."""

    @staticmethod
    def forward(
        ctx, x: Tensor, weight: Tensor, bias: Tensor, v: Tensor, groups: int, eps: float
    ) -> Tensor:
        dtype = torch.promote_types(x.dtype, torch.float32)
        xc, w, b, vc = (t.to(dtype).contiguous() for t in (x, weight, bias, v))
        if xc.numel() == 0:  # zero RoIs: rstd = 1 keeps the zero gradients finite
            n = xc.shape[0]
            y, mean, rstd = xc.clone(), xc.new_zeros(n, groups), xc.new_ones(n, groups)
        else:
            y, mean, rstd = _ops(xc)[0](xc, w, b, vc, groups, eps)
        # x is kept in its own dtype (half the bytes of a float32 copy for bf16).
        ctx.save_for_backward(x, w, vc, mean, rstd)
        ctx.param_dtypes = (weight.dtype, bias.dtype, v.dtype)
        return y.to(x.dtype)

    @staticmethod
    @once_differentiable
    def backward(ctx, dy: Tensor) -> Tuple[Tensor | None, ...]:
        x, w, v, mean, rstd = ctx.saved_tensors
        xc = x.to(w.dtype).contiguous()
        dyc = dy.to(w.dtype).contiguous()
        dx, *grads = _ops(xc)[1](xc, dyc, w, v, mean, rstd)
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
