"""Triton kernels of EvoNorm-S0's forward and backward, for CUDA tensors.

Same contract and formulas as :func:`.evonorm_function.torch_forward` /
:func:`.evonorm_function.torch_backward` (Liu et al. 2020, "Evolving
Normalization-Activation Layers", arXiv:2004.02967, S0; docs/original.md, "EvoNorm-S0"),
except that x and dy stay in their own dtype (float32, float16 or bfloat16): every load
is cast to float32, statistics and sums are accumulated in float32, and y / dx are
written in x's dtype. Passes over memory: 3 forward and 5 backward for large groups; 2
and 3 when a whole group fits in registers. x [N, C, L] is contiguous, so the group
(n, g) is the contiguous run of M = C / G * L elements at (n * G + g) * M, and the channel
row (n, c) the run of L elements at (n * C + c) * L. Any other layout (channels_last) is
copied to contiguous once by :class:`.EvoNormS0Function`.

.. code-block:: none

    small groups (RoI heads: 512 x 32 groups of 8 x 49; padded group <= fused_max)
      [_fused_forward]  ROWS whole groups per program, as [ROWS, c, L] tiles in
                        registers: mean, centred var, y      -> y, mean, rstd   (2 passes)
      [_fused_backward] the same tiles of x, dy: P, Q, B per (n, c), coef, dx
                                                             -> dx, P, Q, B     (3 passes)
      [_bwd_params]     dweight, dv, dbias (below)

    forward, large groups (FPN maps: N*G = 64 groups of ~500k elements; 3 passes)
      [_stats_partial]  grid (N*G, S): program (r, s) reduces chunk s of group r
                        (Chan's count/mean/M2 per block)      -> pmean, pm2 [N*G, S]
      [_stats_combine]  grid (N*G): combine the S partials   -> mean, rstd [N, G]
      [_apply]          grid (rows, S_L) over (n, c) rows     -> y

    backward, large groups (rows = (n, c), L split in chunks when long; 5 passes)
      [_bwd_partials]   x, dy -> per (n, c) and chunk: P, Q, B = sum dy
      torch.sum         over the chunks, only when a row was split  -> P, Q, B [N, C]
      [_bwd_coef]       coef[n, g] = rstd^3 / M * sum_(c in g) w P     [N, G]
      [_bwd_params]     dweight, dv, dbias: sums over n (BLOCK_N samples at a
                        time, parallel over channels)                 [C]
      [_bwd_dx]         x, dy, coef, mean, rstd -> dx

No atomics: every reduction has a fixed order (tree sums inside a program, then
fixed-shape partial arrays combined in a fixed order), so for the same input,
tiling and GPU the float32 results are bit-identical run to run. Results can
differ in the last bits from the C and PyTorch paths, and from another tiling.

:func:`forward_plan` and :func:`backward_plan` give every launch (kernel, grid,
scalars, constexprs, num_warps) from the shape alone; :func:`forward` and
:func:`backward` run them under ``torch.cuda.device(x.device)``, as Triton launches
on the *current* CUDA device, and :mod:`.evonorm_triton_compile` compiles the same
plans for sm_80 / sm_90 without a GPU.

``import triton`` is optional: without it this module still imports and
:func:`unavailable_reason` says why the kernels cannot run. On CPU tensors the
kernels run only under Triton's interpreter (``TRITON_INTERPRET=1`` set before
triton is first imported), which is how the CPU test-suite checks them.
"""

from __future__ import annotations

import contextlib
import dataclasses
from typing import Dict, NamedTuple, Tuple

import torch
from torch import Tensor

try:
    import triton
    import triton.language as tl
except ImportError as exc:  # optional: only the CUDA path needs it
    triton = tl = None
    _IMPORT_ERROR = f"triton is not importable ({exc}); install it: pip install triton"
else:
    _IMPORT_ERROR = None

#: Input dtypes the kernels take as they are (statistics in float32).
DTYPES = (torch.float32, torch.float16, torch.bfloat16)


@dataclasses.dataclass(frozen=True)
class Tiling:
    """Block sizes (elements). Tests lower them so the split paths run on tiny shapes.

    The defaults aim at H100/H200 (132 SMs; not yet timed on one): a 2048-element
    tile with 8 warps is 8 float32 per thread, two 16-byte loads; 8192-element
    chunks give the FPN P3 map at batch 2 (64 groups of 537,600) 64 x 66 = 4224
    programs, about 32 per SM; groups up to 4096 padded elements (RoI heads:
    8 x 49, padded 8 x 64) take the one-pass kernels, four groups per program.

    Args:
        tile (int): Elements a program holds per loop step (power of two).
        chunk (int): Elements of one row or group one program reduces before
            its partial is combined (a multiple of ``tile`` is used).
        fused_max (int): Largest group, padded to [pow2(C / G), pow2(L)] elements,
            that the one-pass forward and backward keep in registers; larger
            groups take the split path.
        max_splits (int): Cap on the chunks per group / row (chunks grow to fit).
    """

    tile: int = 2048
    chunk: int = 8192
    fused_max: int = 4096
    max_splits: int = 1024


#: The tiling every call uses (a test may replace it).
TILING = Tiling()
# The backward's tiny reductions over [N, C] partials: elements per program of
# the per-group sum, and the samples x channels tile of the per-channel sums.
_SMALL_TILE = 1024
_PARAM_BLOCK_N, _PARAM_BLOCK_C = 128, 16


def unavailable_reason(x: Tensor) -> str | None:
    """Why the kernels cannot run on ``x``, or ``None`` if they can."""
    if _IMPORT_ERROR is not None:
        return _IMPORT_ERROR
    if x.dtype not in DTYPES:
        return f"{x.dtype} is not supported (float32, float16, bfloat16 only)"
    if x.device.type == "cuda" or (x.device.type == "cpu" and interpreted()):
        return None
    if x.device.type == "cpu":
        return (
            "CPU tensors need Triton's interpreter: set TRITON_INTERPRET=1 before "
            "triton is first imported"
        )
    return f"{x.device.type} tensors are not supported (CUDA, or CPU under TRITON_INTERPRET=1)"


def interpreted() -> bool:
    """Whether the kernels were defined under Triton's interpreter (run on CPU)."""
    return triton is not None and type(_fused_forward).__name__ == "InterpretedFunction"


def _pow2(n: int) -> int:
    return 1 << max(0, int(n) - 1).bit_length()


def _warps(elements: int) -> int:
    return 4 if elements <= 1024 else 8


def _chunk(length: int, block: int, tiling: Tiling) -> Tuple[int, int]:
    """(chunk, number of chunks): chunk a multiple of block, at most max_splits chunks."""
    chunk = min(max(tiling.chunk, -(-length // tiling.max_splits)), length)
    chunk = -(-chunk // block) * block
    return chunk, max(1, -(-length // chunk))


def _row_grid(rows: int, length: int, tiling: Tiling) -> Tuple[tuple, int, int, dict]:
    """(grid, chunks, chunk, meta) over ``rows`` contiguous runs of ``length`` elements:
    several short rows per program, long rows split in chunks (one partial each)."""
    block = min(_pow2(length), _pow2(tiling.tile))
    per = min(max(1, _pow2(tiling.tile) // block), _pow2(rows))
    chunk, splits = _chunk(length, block, tiling)
    meta = dict(ROWS=per, BLOCK=block, STEPS=chunk // block, num_warps=_warps(per * block))
    return (-(-rows // per), splits), splits, chunk, meta


def _fused_grid(num_groups: int, cpg: int, length: int, tiling: Tiling) -> Tuple | None:
    """(grid, meta) of the one-pass kernels if a group, padded to [pow2(cpg), pow2(L)],
    fits ``fused_max`` elements; else None (the split path)."""
    block_c, block_l = _pow2(cpg), _pow2(length)
    if block_c * block_l > tiling.fused_max:
        return None
    per = min(max(1, _pow2(tiling.tile) // (block_c * block_l)), _pow2(num_groups))
    meta = dict(ROWS=per, BLOCK_C=block_c, BLOCK_L=block_l)
    return (-(-num_groups // per),), dict(meta, num_warps=_warps(per * block_c * block_l))


class Launch(NamedTuple):
    """One kernel launch of a plan: ``kernel[grid](*pointers, *scalars, **constexprs,
    num_warps=num_warps)``; every kernel here takes its tensors first."""

    kernel: object  # a triton.jit function
    grid: Tuple[int, ...]
    scalars: tuple
    constexprs: dict
    num_warps: int

    def __call__(self, *pointers: Tensor) -> None:
        """Launch on the current CUDA device (callers enter the tensors' one first)."""
        meta = dict(self.constexprs, num_warps=self.num_warps)
        self.kernel[self.grid](*pointers, *self.scalars, **meta)


def _launch(kernel, grid: tuple, scalars: tuple, meta: dict) -> Launch:
    """A :class:`Launch` from ``meta``: the constexprs and ``num_warps``."""
    constexprs = {k: v for k, v in meta.items() if k != "num_warps"}
    return Launch(kernel, grid, scalars, constexprs, meta["num_warps"])


def forward_plan(
    shape: Tuple[int, int, int], groups: int, eps: float, tiling: Tiling | None = None
) -> Dict[str, Launch]:
    """The launches :func:`forward` makes for x of ``shape`` [N, C, L], by name in order:
    ``fused_forward``, or ``stats_partial``, ``stats_combine``, ``apply`` (module
    docstring). Pure (shapes in, no tensor), so the sm_80 / sm_90 compile check
    (:mod:`.evonorm_triton_compile`) compiles exactly what runs."""
    tiling = tiling or TILING
    n, c, length = shape
    cpg, size = c // groups, c // groups * length
    fused = _fused_grid(n * groups, cpg, length, tiling)
    if fused:
        grid, meta = fused
        scalars = (n * groups, groups, cpg, length, eps)
        return {"fused_forward": _launch(_fused_forward, grid, scalars, meta)}
    block = _pow2(tiling.tile)
    chunk, splits = _chunk(size, block, tiling)
    grid, _, row_chunk, meta = _row_grid(n * c, length, tiling)
    return {
        "stats_partial": Launch(
            _stats_partial, (n * groups, splits), (size, chunk, splits),
            dict(BLOCK=block, STEPS=chunk // block), _warps(block),
        ),
        "stats_combine": Launch(
            _stats_combine, (n * groups,), (size, chunk, splits, eps),
            dict(BLOCK=_pow2(splits)), 4,
        ),
        "apply": _launch(_apply, grid, (n * c, c, cpg, length, row_chunk), meta),
    }  # fmt: skip


def backward_plan(
    shape: Tuple[int, int, int], groups: int, tiling: Tiling | None = None
) -> Dict[str, Launch]:
    """The launches :func:`backward` makes for x of ``shape`` [N, C, L], by name in order:
    ``fused_backward``, ``bwd_params``, or ``bwd_partials``, ``bwd_coef``,
    ``bwd_params``, ``bwd_dx`` (module docstring); pure, as :func:`forward_plan`."""
    tiling = tiling or TILING
    n, c, length = shape
    cpg = c // groups
    steps = _pow2(-(-n // _PARAM_BLOCK_N))  # a power of two: few compiled variants as N varies
    params = Launch(
        _bwd_params, (-(-c // _PARAM_BLOCK_C),), (n, c, cpg),
        dict(BLOCK_N=_PARAM_BLOCK_N, BLOCK_C=_PARAM_BLOCK_C, STEPS=steps), 8,
    )  # fmt: skip
    fused = _fused_grid(n * groups, cpg, length, tiling)
    if fused:
        grid, meta = fused
        scalars = (n * groups, groups, cpg, length)
        return {
            "fused_backward": _launch(_fused_backward, grid, scalars, meta),
            "bwd_params": params,
        }
    grid, splits, chunk, meta = _row_grid(n * c, length, tiling)
    block = _pow2(cpg)
    per = min(max(1, _SMALL_TILE // block), _pow2(n * groups))
    return {
        "bwd_partials": _launch(_bwd_partials, grid, (n * c, c, length, splits, chunk), meta),
        "bwd_coef": Launch(
            _bwd_coef, (-(-(n * groups) // per),), (n * groups, groups, cpg, cpg * length),
            dict(ROWS=per, BLOCK=block), 4,
        ),
        "bwd_params": params,
        "bwd_dx": _launch(_bwd_dx, grid, (n * c, c, cpg, length, chunk), meta),
    }  # fmt: skip


def _on_device(device: torch.device):
    """Context in which to launch on ``device``: Triton launches on the *current* CUDA
    device, so a tensor on cuda:1 while cuda:0 is current must enter cuda:1 first."""
    return torch.cuda.device(device) if device.type == "cuda" else contextlib.nullcontext()


def forward(
    x: Tensor,
    weight: Tensor,
    bias: Tensor,
    v: Tensor,
    groups: int,
    eps: float,
    tiling: Tiling | None = None,
) -> Tuple[Tensor, Tensor, Tensor]:
    """Triton version of :func:`.evonorm_function.torch_forward` (module docstring).

    Args:
        x (Tensor): Input [N, C, L], contiguous, float32/float16/bfloat16.
        weight, bias, v (Tensor): Parameters [C], float32, contiguous.
        groups (int): Number of groups G, dividing C.
        eps (float): Added to the variance.
        tiling (Tiling, optional): Block sizes; default :data:`TILING`.

    Returns:
        tuple[Tensor]: y [N, C, L] in x's dtype; mean, rstd [N, G] in float32.
    """
    n = x.shape[0]
    y = torch.empty_like(x)
    mean, rstd = (x.new_empty(n, groups, dtype=torch.float32) for _ in range(2))
    if x.numel() == 0:
        return y, mean.zero_(), rstd.fill_(1.0)
    plan = forward_plan(tuple(x.shape), groups, eps, tiling)
    with _on_device(x.device):
        if "fused_forward" in plan:
            plan["fused_forward"](x, weight, bias, v, y, mean, rstd)
            return y, mean, rstd
        # partial statistics [N * G, chunks]: the shape of stats_partial's grid
        shape = plan["stats_partial"].grid
        pmean, pm2 = (x.new_empty(shape, dtype=torch.float32) for _ in range(2))
        plan["stats_partial"](x, pmean, pm2)
        plan["stats_combine"](pmean, pm2, mean, rstd)
        plan["apply"](x, weight, bias, v, y, rstd)
    return y, mean, rstd


def backward(
    x: Tensor,
    dy: Tensor,
    weight: Tensor,
    v: Tensor,
    mean: Tensor,
    rstd: Tensor,
    tiling: Tiling | None = None,
) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
    """Triton version of :func:`.evonorm_function.torch_backward` (module docstring).

    Args:
        x, dy (Tensor): Input and output gradient [N, C, L], contiguous, same dtype.
        weight, v (Tensor): Parameters [C], float32.
        mean, rstd (Tensor): Per-group statistics [N, G] (float32) from the forward.
        tiling (Tiling, optional): Block sizes; default :data:`TILING`.

    Returns:
        tuple[Tensor]: dx [N, C, L] in x's dtype; dweight, dbias, dv [C] in float32.
    """
    n, c, _ = x.shape
    dx = torch.empty_like(x)
    if x.numel() == 0:
        return dx, *(weight.new_zeros(c) for _ in range(3))
    dw, db, dv = (weight.new_empty(c) for _ in range(3))
    plan = backward_plan(tuple(x.shape), mean.shape[1], tiling)
    with _on_device(x.device):
        if "fused_backward" in plan:
            pqb = x.new_empty(3, n * c, dtype=torch.float32)
            plan["fused_backward"](x, dy, weight, v, mean, rstd, dx, pqb)
            plan["bwd_params"](pqb, weight, rstd, dw, db, dv)
            return dx, dw, db, dv
        splits = plan["bwd_partials"].grid[1]
        part = x.new_empty(3, n * c, splits, dtype=torch.float32)
        plan["bwd_partials"](x, dy, v, part)
        pqb = part.sum(2) if splits > 1 else part.view(3, n * c)  # fixed order: deterministic
        coef = torch.empty_like(rstd)
        plan["bwd_coef"](pqb, weight, rstd, coef)
        plan["bwd_params"](pqb, weight, rstd, dw, db, dv)
        plan["bwd_dx"](x, dy, weight, v, mean, rstd, coef, dx)
    return dx, dw, db, dv


# Compile-time (tl.constexpr) kernel arguments are upper case, as in Triton's own code.
# ruff: noqa: N803


if triton is not None:

    @triton.jit
    def _group_tile(
        pid, num_groups, cpg, length,
        ROWS: tl.constexpr, BLOCK_C: tl.constexpr, BLOCK_L: tl.constexpr,
    ):  # fmt: skip
        """ROWS whole groups as a [ROWS, BLOCK_C, BLOCK_L] tile (channel, position)."""
        grp = pid * ROWS + tl.arange(0, ROWS)
        ci = tl.arange(0, BLOCK_C)
        li = tl.arange(0, BLOCK_L)
        chan_ok = (grp < num_groups)[:, None] & (ci < cpg)[None, :]
        mask = chan_ok[:, :, None] & (li < length)[None, None, :]
        row = grp[:, None] * cpg + ci[None, :]  # channel row n * C + c
        offs = row.to(tl.int64)[:, :, None] * length + li[None, None, :]
        return grp, row, chan_ok, mask, offs

    @triton.jit
    def _fused_forward(
        x_ptr, w_ptr, b_ptr, v_ptr, y_ptr, mean_ptr, rstd_ptr,
        num_groups, groups, cpg, length, eps,
        ROWS: tl.constexpr, BLOCK_C: tl.constexpr, BLOCK_L: tl.constexpr,
    ):  # fmt: skip
        """ROWS whole groups per program: statistics and y from one read of x."""
        grp, row, chan_ok, mask, offs = _group_tile(
            tl.program_id(0), num_groups, cpg, length, ROWS, BLOCK_C, BLOCK_L
        )
        x = tl.load(x_ptr + offs, mask=mask, other=0.0).to(tl.float32)
        size = cpg * length
        mean = tl.sum(tl.sum(x, axis=2), axis=1) / size
        centred = tl.where(mask, x - mean[:, None, None], 0.0)
        rstd = tl.rsqrt(tl.sum(tl.sum(centred * centred, axis=2), axis=1) / size + eps)
        ch = row % (groups * cpg)
        w = tl.load(w_ptr + ch, mask=chan_ok, other=0.0)
        b = tl.load(b_ptr + ch, mask=chan_ok, other=0.0)[:, :, None]
        v = tl.load(v_ptr + ch, mask=chan_ok, other=0.0)[:, :, None]
        y = x * tl.sigmoid(v * x) * (w * rstd[:, None])[:, :, None] + b
        tl.store(y_ptr + offs, y.to(y_ptr.dtype.element_ty), mask=mask)
        tl.store(mean_ptr + grp, mean, mask=grp < num_groups)
        tl.store(rstd_ptr + grp, rstd, mask=grp < num_groups)

    @triton.jit
    def _fused_backward(
        x_ptr, dy_ptr, w_ptr, v_ptr, mean_ptr, rstd_ptr, dx_ptr, pqb_ptr,
        num_groups, groups, cpg, length,
        ROWS: tl.constexpr, BLOCK_C: tl.constexpr, BLOCK_L: tl.constexpr,
    ):  # fmt: skip
        """ROWS whole groups per program: dx and the rows' P, Q, B from one read of x, dy."""
        grp, row, chan_ok, mask, offs = _group_tile(
            tl.program_id(0), num_groups, cpg, length, ROWS, BLOCK_C, BLOCK_L
        )
        x = tl.load(x_ptr + offs, mask=mask, other=0.0).to(tl.float32)
        dy = tl.load(dy_ptr + offs, mask=mask, other=0.0).to(tl.float32)
        grp_ok = grp < num_groups
        mean = tl.load(mean_ptr + grp, mask=grp_ok, other=0.0)
        rstd = tl.load(rstd_ptr + grp, mask=grp_ok, other=0.0)
        ch = row % (groups * cpg)
        w = tl.load(w_ptr + ch, mask=chan_ok, other=0.0)
        v = tl.load(v_ptr + ch, mask=chan_ok, other=0.0)[:, :, None]
        s = tl.sigmoid(v * x)
        dy_xs = dy * x * s
        p = tl.sum(dy_xs, axis=2)
        coef = tl.sum(w * p, axis=1) * (rstd * rstd * rstd) / (cpg * length)
        scale = (w * rstd[:, None])[:, :, None]
        dx = dy * scale * s * (1.0 + v * x * (1.0 - s)) - coef[:, None, None] * (
            x - mean[:, None, None]
        )
        tl.store(dx_ptr + offs, dx.to(dx_ptr.dtype.element_ty), mask=mask)
        plane = num_groups * cpg
        tl.store(pqb_ptr + row, p, mask=chan_ok)
        tl.store(pqb_ptr + plane + row, tl.sum(dy_xs * x * (1.0 - s), axis=2), mask=chan_ok)
        tl.store(pqb_ptr + 2 * plane + row, tl.sum(dy, axis=2), mask=chan_ok)

    @triton.jit
    def _stats_partial(
        x_ptr, pmean_ptr, pm2_ptr, size, chunk, splits, BLOCK: tl.constexpr, STEPS: tl.constexpr
    ):
        """Mean and centred sum of squares of chunk ``program_id(1)`` of one group."""
        row = tl.program_id(0)
        split = tl.program_id(1)
        start = split * chunk
        end = tl.minimum(start + chunk, size)
        base = x_ptr + row.to(tl.int64) * size
        count = 0.0
        mean = 0.0
        m2 = 0.0
        for step in range(0, STEPS):  # chunk = STEPS * BLOCK; the tail is masked
            off = start + step * BLOCK
            idx = off + tl.arange(0, BLOCK)
            mask = idx < end
            x = tl.load(base + idx, mask=mask, other=0.0).to(tl.float32)
            nb = tl.minimum(tl.maximum(end - off, 0), BLOCK).to(tl.float32)
            bmean = tl.sum(x, axis=0) / tl.maximum(nb, 1.0)
            centred = tl.where(mask, x - bmean, 0.0)
            total = count + nb  # Chan et al.: merge the block's (count, mean, M2)
            delta = bmean - mean
            mean += delta * (nb / total)
            m2 += tl.sum(centred * centred, axis=0) + delta * delta * (count * nb / total)
            count = total
        tl.store(pmean_ptr + row * splits + split, mean)
        tl.store(pm2_ptr + row * splits + split, m2)

    @triton.jit
    def _stats_combine(
        pmean_ptr, pm2_ptr, mean_ptr, rstd_ptr, size, chunk, splits, eps, BLOCK: tl.constexpr
    ):
        """One group: merge its ``splits`` partials (fixed order) into mean and rstd."""
        row = tl.program_id(0)
        i = tl.arange(0, BLOCK)
        ok = i < splits
        count = tl.where(ok, tl.minimum(size - i * chunk, chunk), 0).to(tl.float32)
        pmean = tl.load(pmean_ptr + row * splits + i, mask=ok, other=0.0)
        pm2 = tl.load(pm2_ptr + row * splits + i, mask=ok, other=0.0)
        mean = tl.sum(count * pmean, axis=0) / size
        delta = pmean - mean
        m2 = tl.sum(pm2 + count * delta * delta, axis=0)
        tl.store(mean_ptr + row, mean)
        tl.store(rstd_ptr + row, tl.rsqrt(m2 / size + eps))

    @triton.jit
    def _apply(
        x_ptr, w_ptr, b_ptr, v_ptr, y_ptr, rstd_ptr, rows, channels, cpg, length, chunk,
        ROWS: tl.constexpr, BLOCK: tl.constexpr, STEPS: tl.constexpr,
    ):  # fmt: skip
        """y on ROWS channel rows (n, c), chunk ``program_id(1)`` of each."""
        row = tl.program_id(0) * ROWS + tl.arange(0, ROWS)
        row_ok = row < rows
        ch = row % channels
        w = tl.load(w_ptr + ch, mask=row_ok, other=0.0)
        b = tl.load(b_ptr + ch, mask=row_ok, other=0.0)[:, None]
        v = tl.load(v_ptr + ch, mask=row_ok, other=0.0)[:, None]
        scale = (w * tl.load(rstd_ptr + row // cpg, mask=row_ok, other=0.0))[:, None]
        start = tl.program_id(1) * chunk
        end = tl.minimum(start + chunk, length)
        base = row.to(tl.int64)[:, None] * length
        for step in range(0, STEPS):  # chunk = STEPS * BLOCK; the tail is masked
            off = start + step * BLOCK
            col = off + tl.arange(0, BLOCK)
            mask = row_ok[:, None] & (col < end)[None, :]
            x = tl.load(x_ptr + base + col[None, :], mask=mask, other=0.0).to(tl.float32)
            y = x * tl.sigmoid(v * x) * scale + b
            tl.store(y_ptr + base + col[None, :], y.to(y_ptr.dtype.element_ty), mask=mask)

    @triton.jit
    def _bwd_partials(
        x_ptr, dy_ptr, v_ptr, part_ptr, rows, channels, length, splits, chunk,
        ROWS: tl.constexpr, BLOCK: tl.constexpr, STEPS: tl.constexpr,
    ):  # fmt: skip
        """Per channel row (n, c) and chunk: P = sum dy x s, Q = sum dy x^2 s (1 - s) and
        B = sum dy (s = sigmoid(v x)), into part [3, rows, splits]."""
        row = tl.program_id(0) * ROWS + tl.arange(0, ROWS)
        row_ok = row < rows
        v = tl.load(v_ptr + row % channels, mask=row_ok, other=0.0)[:, None]
        start = tl.program_id(1) * chunk
        end = tl.minimum(start + chunk, length)
        base = row.to(tl.int64)[:, None] * length
        acc_p = tl.zeros((ROWS, BLOCK), dtype=tl.float32)
        acc_q = tl.zeros((ROWS, BLOCK), dtype=tl.float32)
        acc_b = tl.zeros((ROWS, BLOCK), dtype=tl.float32)
        for step in range(0, STEPS):  # chunk = STEPS * BLOCK; the tail is masked
            off = start + step * BLOCK
            col = off + tl.arange(0, BLOCK)
            mask = row_ok[:, None] & (col < end)[None, :]
            x = tl.load(x_ptr + base + col[None, :], mask=mask, other=0.0).to(tl.float32)
            dy = tl.load(dy_ptr + base + col[None, :], mask=mask, other=0.0).to(tl.float32)
            s = tl.sigmoid(v * x)
            dy_xs = dy * x * s
            acc_p += dy_xs
            acc_q += dy_xs * x * (1.0 - s)
            acc_b += dy
        out = part_ptr + row * splits + tl.program_id(1)
        tl.store(out, tl.sum(acc_p, axis=1), mask=row_ok)
        tl.store(out + rows * splits, tl.sum(acc_q, axis=1), mask=row_ok)
        tl.store(out + 2 * rows * splits, tl.sum(acc_b, axis=1), mask=row_ok)

    @triton.jit
    def _bwd_coef(
        pqb_ptr, w_ptr, rstd_ptr, coef_ptr, num_groups, groups, cpg, size,
        ROWS: tl.constexpr, BLOCK: tl.constexpr,
    ):  # fmt: skip
        """coef[n, g] = rstd^3 / M * sum_(c in g) w_c P[n, c], for ROWS groups per program
        (the rows (n, c) of group n * G + g are (n * G + g) * cpg + 0..cpg-1)."""
        grp = tl.program_id(0) * ROWS + tl.arange(0, ROWS)
        ci = tl.arange(0, BLOCK)
        grp_ok = grp < num_groups
        mask = grp_ok[:, None] & (ci < cpg)[None, :]
        p = tl.load(pqb_ptr + grp[:, None] * cpg + ci[None, :], mask=mask, other=0.0)
        w = tl.load(w_ptr + (grp % groups)[:, None] * cpg + ci[None, :], mask=mask, other=0.0)
        rstd = tl.load(rstd_ptr + grp, mask=grp_ok, other=0.0)
        coef = tl.sum(p * w, axis=1) * (rstd * rstd * rstd) / size
        tl.store(coef_ptr + grp, coef, mask=grp_ok)

    @triton.jit
    def _bwd_params(
        pqb_ptr, w_ptr, rstd_ptr, dw_ptr, db_ptr, dv_ptr, batch, channels, cpg,
        BLOCK_N: tl.constexpr, BLOCK_C: tl.constexpr, STEPS: tl.constexpr,
    ):  # fmt: skip
        """dweight = sum_n P rstd, dbias = sum_n B and dv = w sum_n Q rstd on BLOCK_C
        channels, BLOCK_N samples per step (pqb = [P, Q, B], each [N, C])."""
        c = tl.program_id(0) * BLOCK_C + tl.arange(0, BLOCK_C)
        c_ok = c < channels
        plane = batch * channels
        acc_p = tl.zeros((BLOCK_N, BLOCK_C), dtype=tl.float32)
        acc_q = tl.zeros((BLOCK_N, BLOCK_C), dtype=tl.float32)
        acc_b = tl.zeros((BLOCK_N, BLOCK_C), dtype=tl.float32)
        for step in range(0, STEPS):  # steps past the batch are masked
            n = step * BLOCK_N + tl.arange(0, BLOCK_N)
            mask = (n < batch)[:, None] & c_ok[None, :]
            row = n[:, None] * channels + c[None, :]
            grp = n[:, None] * (channels // cpg) + (c // cpg)[None, :]
            rstd = tl.load(rstd_ptr + grp, mask=mask, other=0.0)
            acc_p += tl.load(pqb_ptr + row, mask=mask, other=0.0) * rstd
            acc_q += tl.load(pqb_ptr + plane + row, mask=mask, other=0.0) * rstd
            acc_b += tl.load(pqb_ptr + 2 * plane + row, mask=mask, other=0.0)
        w = tl.load(w_ptr + c, mask=c_ok, other=0.0)
        tl.store(dw_ptr + c, tl.sum(acc_p, axis=0), mask=c_ok)
        tl.store(db_ptr + c, tl.sum(acc_b, axis=0), mask=c_ok)
        tl.store(dv_ptr + c, tl.sum(acc_q, axis=0) * w, mask=c_ok)

    @triton.jit
    def _bwd_dx(
        x_ptr, dy_ptr, w_ptr, v_ptr, mean_ptr, rstd_ptr, coef_ptr, dx_ptr,
        rows, channels, cpg, length, chunk,
        ROWS: tl.constexpr, BLOCK: tl.constexpr, STEPS: tl.constexpr,
    ):  # fmt: skip
        """dx = dy w rstd s (1 + v x (1 - s)) - coef (x - mean) on ROWS rows (n, c)."""
        row = tl.program_id(0) * ROWS + tl.arange(0, ROWS)
        row_ok = row < rows
        ch = row % channels
        grp = row // cpg
        v = tl.load(v_ptr + ch, mask=row_ok, other=0.0)[:, None]
        rstd = tl.load(rstd_ptr + grp, mask=row_ok, other=0.0)
        scale = (tl.load(w_ptr + ch, mask=row_ok, other=0.0) * rstd)[:, None]
        coef = tl.load(coef_ptr + grp, mask=row_ok, other=0.0)[:, None]
        mean = tl.load(mean_ptr + grp, mask=row_ok, other=0.0)[:, None]
        start = tl.program_id(1) * chunk
        end = tl.minimum(start + chunk, length)
        base = row.to(tl.int64)[:, None] * length
        for step in range(0, STEPS):  # chunk = STEPS * BLOCK; the tail is masked
            off = start + step * BLOCK
            col = off + tl.arange(0, BLOCK)
            mask = row_ok[:, None] & (col < end)[None, :]
            x = tl.load(x_ptr + base + col[None, :], mask=mask, other=0.0).to(tl.float32)
            dy = tl.load(dy_ptr + base + col[None, :], mask=mask, other=0.0).to(tl.float32)
            s = tl.sigmoid(v * x)
            dx = dy * scale * s * (1.0 + v * x * (1.0 - s)) - coef * (x - mean)
            tl.store(dx_ptr + base + col[None, :], dx.to(dx_ptr.dtype.element_ty), mask=mask)
