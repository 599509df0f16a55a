"""EvoNorm-S0's Triton kernels compiled for sm_80 / sm_90 without a GPU, with their resources.

Every launch that :func:`.evonorm_triton.forward_plan` and :func:`.backward_plan`
pick for the recipe's shapes (:func:`recipe_shapes`) in float32, float16 and
bfloat16 is bound as a real launch binds it (Triton's own argument binder: int32 or
int64 by value, 16-divisible integers and 16-byte aligned pointers hinted, an
integer 1 made a constant), identical variants are merged, and each is compiled by
``triton.compile`` for ``GPUTarget("cuda", arch, 32)``. ptxas, bundled in the
triton wheel, assembles it; its ``-v`` log gives registers and spills, the compiled
kernel's metadata the shared memory it asks for at launch, and its PTX the widths of
its global loads (128 bits: vectorised; 16 bits: one float16 / bfloat16 element).

.. code-block:: none

    plan (shape, groups) --binder--> (signature, constexprs, attrs, num_warps)
      --merge identical--> variants --triton.compile(ASTSource, GPUTarget)--> cubin
      --ptxas -v log, metadata.shared, PTX--> registers, spills, shared, load widths

No GPU is needed; the numbers are what the compiler reports, not measurements.
"""

from __future__ import annotations

import contextlib
import io
import math
import re
from typing import Dict, List, NamedTuple, Tuple

import torch
import triton
from triton import knobs
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource, make_backend
from triton.runtime.jit import MockTensor, create_function_from_signature

from . import evonorm_triton
from .evonorm import EvoNormS0

#: Compute capabilities checked, with the largest shared memory one block may opt in
#: to (bytes; CUDA C Programming Guide, "Compute Capabilities" table) and per SM.
SHARED_PER_BLOCK = {80: 163 * 1024, 90: 227 * 1024}
SHARED_PER_SM = {80: 164 * 1024, 90: 228 * 1024}
#: Registers a thread may use (both archs), per SM, and the warps an SM holds.
MAX_REGISTERS, REGISTERS_PER_SM, WARPS_PER_SM = 255, 65536, 64
#: Kernel pointer arguments in the input's dtype; every other one points to float32.
IO_POINTERS = ("x_ptr", "y_ptr", "dy_ptr", "dx_ptr")
DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
# The recipe (configs/_base_/models/mask_rcnn_r50_fpn3_evonorm.py) at 800 x 1333,
# padded to a multiple of 32: FPN P3-P6 (P6 a stride-2 "SAME" conv of C5), width 256.
_IMAGE, _FPN_STRIDES, _FPN_WIDTH = (800, 1344), (8, 16, 32, 64), 256
_PTXAS_SPILLS = r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads"


def recipe_shapes() -> Dict[str, Tuple[Tuple[int, int, int], int, float]]:
    """name -> ([N, C, L], groups, eps) of the EvoNorm-S0 inputs of the recipe's rows:
    FPN levels at batch 2 and 8, the RoI heads' 7x7 and 14x14 maps at 512 and 1024 RoIs,
    sephv2's FC features [N, 1024]; groups and eps as :class:`EvoNormS0` resolves them."""
    cases = {}
    for batch in (2, 8):
        for level, stride in enumerate(_FPN_STRIDES, start=3):
            length = math.prod(-(-side // stride) for side in _IMAGE)
            cases[f"P{level} x{batch}"] = (batch, _FPN_WIDTH, length)
    for size in (7, 14):
        for rois in (512, 1024):
            cases[f"RoI {size}x{size} x{rois}"] = (rois, _FPN_WIDTH, size * size)
    for rows in (512, 1024):
        cases[f"FC x{rows}"] = (rows, 1024, 1)
    shapes = {}
    for name, shape in cases.items():
        norm = EvoNormS0(shape[1])
        shapes[name] = (shape, norm.groups, norm.eps)
    return shapes


class Variant(NamedTuple):
    """One compiled kernel: what Triton's binder makes of a launch, and who uses it."""

    kernel: object
    dtype: str  # the input's (a key of DTYPES), or "any": no pointer in its dtype
    signature: dict
    constexprs: dict
    attrs: dict
    options: dict
    users: List[str]  # names of recipe_shapes() launching it

    @property
    def name(self) -> str:
        return self.kernel.fn.__name__.lstrip("_")

    @property
    def num_warps(self) -> int:
        return self.options["num_warps"]

    def named_constexprs(self) -> dict:
        """The constexprs by argument name (Triton keys them by position); integers the
        binder made constant (a scalar equal to 1) included."""
        names = self.kernel.arg_names
        return {names[key[0]]: value for key, value in self.constexprs.items()}

    def describe(self) -> str:
        """The constexprs as ``ROWS=4 BLOCK_C=8 ...``."""
        return " ".join(f"{name}={value}" for name, value in self.named_constexprs().items())


class Resources(NamedTuple):
    """What one variant needs on one arch (ptxas -v, metadata, PTX)."""

    registers: int
    spill_stores: int
    spill_loads: int
    stack: int
    shared: int
    load_bits: Tuple[int, ...]  # widths of its global loads

    def problems(self, arch: int) -> List[str]:
        """Why this variant would not run as planned on ``arch`` (empty if it would)."""
        found = []
        if self.spill_stores or self.spill_loads or self.stack:
            found.append(
                f"spills ({self.spill_stores} B stored, {self.spill_loads} B loaded, "
                f"{self.stack} B stack)"
            )
        if self.registers > MAX_REGISTERS:
            found.append(f"{self.registers} registers > {MAX_REGISTERS}")
        if self.shared > SHARED_PER_BLOCK[arch]:
            found.append(f"{self.shared} B shared memory > {SHARED_PER_BLOCK[arch]} B")
        return found

    def blocks_per_sm(self, arch: int, num_warps: int) -> int:
        """Resident blocks per SM allowed by registers (256 per warp at a time),
        warps and shared memory (1 KB of it reserved per block)."""
        per_warp = -(-self.registers * 32 // 256) * 256
        by_regs = REGISTERS_PER_SM // per_warp // num_warps
        by_shared = SHARED_PER_SM[arch] // (self.shared + 1024)
        return min(by_regs, WARPS_PER_SM // num_warps, by_shared)


def launches(shape, groups: int, eps: float) -> List[evonorm_triton.Launch]:
    """Every launch of the forward and backward plans of one input shape (default tiling)."""
    forward = evonorm_triton.forward_plan(shape, groups, eps)
    return [*forward.values(), *evonorm_triton.backward_plan(shape, groups).values()]


def bind(launch: evonorm_triton.Launch, dtype: torch.dtype, arch: int) -> tuple:
    """(signature, constexprs, attrs, options) of ``launch`` on input ``dtype``, from
    Triton's binder as :meth:`JITFunction.run` calls it (no tensor, no driver)."""
    kernel = launch.kernel
    backend = make_backend(GPUTarget("cuda", arch, 32))
    runtime = [p.name for p in kernel.params if not p.is_constexpr]
    pointers = [  # the tensors come first, then the scalars
        MockTensor(dtype if name in IO_POINTERS else torch.float32)
        for name in runtime[: len(runtime) - len(launch.scalars)]
    ]
    meta = dict(launch.constexprs, num_warps=launch.num_warps)
    binder = create_function_from_signature(kernel.signature, kernel.params, backend)
    bound, specialization, options = binder(*pointers, *launch.scalars, **meta)
    options, signature, constexprs, attrs = kernel._pack_args(
        backend, meta, bound, specialization, options
    )
    return signature, constexprs, attrs, options.__dict__


def variants(arch: int, dtypes=tuple(DTYPES)) -> List[Variant]:
    """Every distinct kernel variant the recipe's shapes launch on ``arch``, in
    ``dtypes`` (names of :data:`DTYPES`), identical bindings merged."""
    found: Dict[str, Variant] = {}
    for dtype in dtypes:
        for shape_name, (shape, groups, eps) in recipe_shapes().items():
            for launch in launches(shape, groups, eps):
                bound = bind(launch, DTYPES[dtype], arch)
                key = repr((launch.kernel.fn.__name__, bound))
                if key not in found:
                    io = {name for name in bound[0] if name in IO_POINTERS}
                    found[key] = Variant(launch.kernel, dtype if io else "any", *bound, [])
                if shape_name not in found[key].users:
                    found[key].users.append(shape_name)
    return list(found.values())


def compile_all(arch: int, dtypes=tuple(DTYPES)) -> List[Tuple[Variant, Resources]]:
    """:func:`variants` of ``arch``, each with what :func:`compile_variant` reports."""
    return [(variant, compile_variant(variant, arch)) for variant in variants(arch, dtypes)]


def compile_variant(variant: Variant, arch: int) -> Resources:
    """Compile ``variant`` for ``arch`` (always afresh: the ptxas log is read each time).

    Raises:
        triton.compiler.errors.CompilationError, PTXASError: It does not compile.
    """
    source = ASTSource(variant.kernel, variant.signature, variant.constexprs, variant.attrs)
    log = io.StringIO()
    with knobs.nvidia.scope(), knobs.compilation.scope(), contextlib.redirect_stdout(log):
        knobs.nvidia.dump_ptxas_log = True
        knobs.compilation.always_compile = True
        compiled = triton.compile(
            source, target=GPUTarget("cuda", arch, 32), options=variant.options
        )
    text = log.getvalue()
    registers = re.search(r"Used (\d+) registers", text)
    spills = re.search(_PTXAS_SPILLS, text)
    if not (registers and spills):
        raise RuntimeError(f"{variant.name}: no ptxas -v figures in its log:\n{text}")
    return Resources(
        registers=int(registers[1]),
        spill_stores=int(spills[2]),
        spill_loads=int(spills[3]),
        stack=int(spills[1]),
        shared=compiled.metadata.shared,
        load_bits=load_widths(compiled.asm["ptx"]),
    )


def load_widths(ptx: str) -> Tuple[int, ...]:
    """The distinct widths (bits) of the ``ld.global`` instructions in ``ptx``, ascending
    (``ld.global.v4.b32`` -> 128, ``ld.global.b16`` -> 16)."""
    loads = re.findall(r"ld\.global(?:\.[\w:]+)*?(?:\.v(\d))?\.[bfu](\d+)\b", ptx)
    return tuple(sorted({int(vec or 1) * int(bits) for vec, bits in loads}))
