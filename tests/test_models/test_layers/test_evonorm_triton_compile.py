"""EvoNorm-S0's Triton kernels compile for sm_80 and sm_90 without a GPU, within the limits.

Every variant the launch plans pick for the recipe's shapes (FPN P3-P6 at batch 2
and 8, RoI 7x7 / 14x14 at 512 and 1024 RoIs, the [N, 1024] FC features) in fp32,
fp16 and bf16 is compiled with ``triton.compile`` for ``GPUTarget("cuda", arch, 32)``
and the wheel's ptxas: no compile error, no spill, at most 255 registers, shared
memory within the arch's per-block limit. ``tools/triton_compile_report.py`` writes
the same figures into docs/benchmarks.md. About 10 s per arch on a busy 2-core VM.
"""

from __future__ import annotations

import pytest

pytest.importorskip("triton")

from mmdet_evonorm.models.layers import evonorm_triton  # noqa: E402
from mmdet_evonorm.models.layers import evonorm_triton_compile as tc  # noqa: E402

pytestmark = pytest.mark.skipif(
    evonorm_triton.interpreted(), reason="TRITON_INTERPRET=1: the kernels are not compiled"
)
KERNELS = {
    "fused_forward", "fused_backward", "stats_partial", "stats_combine", "apply",
    "bwd_partials", "bwd_coef", "bwd_params", "bwd_dx",
}  # fmt: skip


def test_recipe_shapes_cover_every_launch_path():
    shapes = tc.recipe_shapes()
    assert shapes["P3 x2"] == ((2, 256, 100 * 168), 32, 1e-5)
    assert shapes["P6 x8"][0] == (8, 256, 13 * 21)
    assert shapes["RoI 14x14 x1024"][0] == (1024, 256, 196)
    assert shapes["FC x512"] == ((512, 1024, 1), 32, 1e-5)
    launched = {
        launch.kernel.fn.__name__.lstrip("_")
        for shape, groups, eps in shapes.values()
        for launch in tc.launches(shape, groups, eps)
    }
    assert launched == KERNELS


def test_identical_bindings_are_merged():
    found = tc.variants(90)
    keys = [(v.name, v.dtype, repr(v.signature), v.describe(), repr(v.attrs)) for v in found]
    assert len(set(keys)) == len(keys)
    uses = sum(len(tc.launches(*case)) for case in tc.recipe_shapes().values() for _ in tc.DTYPES)
    assert len(found) < uses
    # fp32-only kernels (partials of [N, C]) are shared by the three input dtypes
    assert {v.dtype for v in found if v.name == "bwd_coef"} == {"any"}
    assert {v.dtype for v in found if v.name == "bwd_dx"} == set(tc.DTYPES)


@pytest.mark.parametrize("arch", sorted(tc.SHARED_PER_BLOCK))
def test_every_variant_compiles_without_spills_within_limits(arch):
    results = tc.compile_all(arch)
    problems = [
        f"{v.name} {v.dtype} {v.describe()} ({', '.join(v.users)}): {problem}"
        for v, res in results
        for problem in res.problems(arch)
    ]
    assert not problems, "\n".join(problems)
    assert {v.name for v, _ in results} == KERNELS
    assert all(0 < res.registers <= tc.MAX_REGISTERS for _, res in results)
    # P3 (L = 16800) rows are read with 128-bit loads
    apply = [res for v, res in results if v.name == "apply" and "P3 x2" in v.users]
    assert apply and all(max(res.load_bits) == 128 for res in apply)
    top = max(results, key=lambda item: item[1].registers)
    print(
        f"sm_{arch}: {len(results)} variants, max {top[1].registers} registers "
        f"({top[0].name} {top[0].describe()}), max shared "
        f"{max(res.shared for _, res in results)} B"
    )


def test_resources_flag_every_limit():
    ok = tc.Resources(64, 0, 0, 0, 1024, (128,))
    assert ok.problems(80) == [] and ok.blocks_per_sm(80, 8) == 4
    assert "spills" in tc.Resources(64, 8, 8, 8, 0, (32,)).problems(90)[0]
    assert "registers" in tc.Resources(256, 0, 0, 0, 0, (32,)).problems(90)[0]
    over = tc.Resources(32, 0, 0, 0, 164 * 1024, (32,))
    assert over.problems(90) == [] and "shared memory" in over.problems(80)[0]
    assert tc.Resources(147, 0, 0, 0, 256, (32,)).blocks_per_sm(90, 8) == 1


def test_load_widths_read_the_ptx():
    ptx = "ld.global.v4.b32 { %r1 }, [ %rd1 + 0 ];\n@%p1 ld.global.b16 { %rs1 }, [ %rd2 ];"
    assert tc.load_widths(ptx) == (16, 128)
    assert tc.load_widths("ld.global.L1::evict_last.v2.b32 { %r1, %r2 }, [ %rd3 ];") == (64,)
