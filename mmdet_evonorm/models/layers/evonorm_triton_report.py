"""``tools/triton_compile_report.py``: EvoNorm-S0's Triton kernels compiled for sm_80 / sm_90.

    python tools/triton_compile_report.py                            # print the section
    python tools/triton_compile_report.py --out docs/benchmarks.md   # replace it there

Every kernel variant the launch plans pick for the recipe's shapes
(:mod:`.evonorm_triton_compile`) is compiled for both archs; the Markdown section
"Triton kernels compiled for sm_80 / sm_90" gives the registers, shared memory, resident
blocks per SM and global load widths of each, and the first things to time on a GPU that
follow from them. ``--out`` replaces that section of an existing file (from its heading
to the next ``## `` heading) or appends it. A variant that fails to compile, spills or
exceeds a limit is reported in the section; the exit status is then 1. Bad input: one
``error:`` line, status 2, nothing written.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

try:
    import triton
except ImportError:  # reported by main()
    triton = None
else:
    from . import evonorm_triton_compile as tc

HEADING = "## Triton kernels compiled for sm_80 / sm_90"
DESCRIPTION = (
    "Compile EvoNorm-S0's Triton kernels for sm_80 and sm_90 (no GPU) and report their resources."
)
ARCHS = (80, 90)


def compile_both() -> tuple[list, float]:
    """([(variant, sm_80 resources, sm_90 resources)], seconds it took)."""
    start = time.perf_counter()
    results = [tc.compile_all(arch) for arch in ARCHS]
    rows = []
    for (variant, res80), (twin, res90) in zip(*results, strict=True):
        if (variant.name, variant.describe()) != (twin.name, twin.describe()):
            raise RuntimeError(f"sm_80 and sm_90 variants differ: {variant.name} / {twin.name}")
        rows.append((variant, res80, res90))
    return rows, time.perf_counter() - start


def _pair(a, b) -> str:
    """``a`` if both archs agree, else ``a / b``."""
    return str(a) if a == b else f"{a} / {b}"


def _blocks(variant, res80, res90) -> tuple:
    """Resident blocks per SM on sm_80 and sm_90."""
    pairs = zip(ARCHS, (res80, res90), strict=True)
    return tuple(res.blocks_per_sm(arch, variant.num_warps) for arch, res in pairs)


def occupancy_findings(rows: list) -> list[str]:
    """Variants that registers hold to one or two resident blocks per SM (dtypes merged)."""
    lines = []
    for count in (1, 2):
        low: dict[tuple, list[str]] = {}
        for v, r80, r90 in rows:
            if min(_blocks(v, r80, r90)) == count:
                key = (v.name, v.describe(), ", ".join(v.users), v.num_warps)
                low.setdefault(key, []).append(f"{v.dtype} {_pair(r80.registers, r90.registers)}")
        items = [
            f"`{name}` {constexprs} ({users}), {warps} warps ({count * warps} of 64 warp "
            f"slots): {', '.join(regs)} registers"
            for (name, constexprs, users, warps), regs in low.items()
        ]
        if items:
            lines.append(
                f"- **{count} resident block{'s' * (count > 1)} per SM** (registers allow no "
                f"more; sm_80 / sm_90 where they differ): " + "; ".join(items) + "."
            )
    return lines


def load_findings(rows: list) -> list[str]:
    """Which kernels at which lengths L get 128-bit loads, and the one-pass tiles' padding."""
    lengths = {name: shape[2] for name, (shape, _, _) in tc.recipe_shapes().items()}
    by_width: dict[bool, dict[str, set]] = {False: {}, True: {}}
    widths = set()
    for v, _, r90 in rows:
        if v.dtype == "any":  # only the [N, C] / [N, G] partials: not x
            continue
        wide = max(r90.load_bits) >= 128
        widths.update(() if wide else r90.load_bits)
        by_width[wide].setdefault(v.name, set()).update(lengths[u] for u in v.users)

    def kernels_at(groups: dict) -> str:
        merged: dict[tuple, list[str]] = {}
        for name, found in groups.items():
            merged.setdefault(tuple(sorted(found)), []).append(f"`{name}`")
        return "; ".join(
            f"{', '.join(k)} at L = {', '.join(map(str, ls))}" for ls, k in merged.items()
        )

    padded = sorted(
        {
            (lengths[u], v.named_constexprs()["BLOCK_L"])
            for v, _, _ in rows
            if v.name.startswith("fused")
            for u in v.users
        }
    )
    narrow = sum(max(r.load_bits) < 128 for v, _, r in rows if v.dtype != "any")
    return [
        f"- **Loads that do not vectorise**: {narrow} of the "
        f"{sum(v.dtype != 'any' for v, _, _ in rows)} variants that read x have no global "
        f"load wider than {max(widths)} bits (widths seen: {', '.join(map(str, sorted(widths)))}"
        f"; 16 = one float16/bfloat16 element per instruction): {kernels_at(by_width[False])} "
        "-- no L here is a multiple of 16. With 128-bit loads: "
        f"{kernels_at(by_width[True])} (`stats_partial` reads whole groups of 8 L elements).",
        "- **Padded one-pass tiles** (L padded to a power of two): "
        + ", ".join(f"L {n} -> {p} ({1 - n / p:.0%} idle lanes)" for n, p in padded if n != p)
        + ".",
    ]


def section(rows: list, seconds: float) -> str:
    """The Markdown section: method, summary, findings, per-variant table."""
    problems = [
        f"- {v.name} {v.dtype} {v.describe()} sm_{arch}: {problem}"
        for v, *res in rows
        for arch, r in zip(ARCHS, res, strict=True)
        for problem in r.problems(arch)
    ]
    registers = [max(row[i].registers for row in rows) for i in (1, 2)]
    shared = [max(row[i].shared for row in rows) for i in (1, 2)]
    verdict = f"{len(problems)} problems (below)" if problems else "all compile, no spill"
    out = [
        HEADING,
        "",
        "`python tools/triton_compile_report.py --out docs/benchmarks.md` (this section);",
        "`tests/test_models/test_layers/test_evonorm_triton_compile.py` fails on a compile",
        "error, a spill, more than 255 registers or shared memory over the arch's per-block",
        "limit (sm_80: 163 KB, sm_90: 227 KB). **No GPU ran**: these are the compiler's",
        "figures. Every variant that `evonorm_triton.forward_plan` / `backward_plan` pick for",
        "the recipe's EvoNorm-S0 inputs at 800x1333 (padded 800x1344) -- FPN P3-P6 (256",
        "channels, 32 groups) at batch 2 and 8, the RoI heads' 7x7 and 14x14 maps at 512 and",
        "1024 RoIs, sephv2's [N, 1024] FC features at 512 and 1024 rows -- in fp32, fp16 and",
        "bf16, forward and backward, is bound by Triton's own argument binder; identical",
        f"bindings are merged, compiled by triton {triton.__version__} for",
        '`GPUTarget("cuda", 80 | 90, 32)` and assembled by the wheel\'s ptxas (`-v` log).',
        "Blocks/SM: the limit from registers (allocated 256 per warp), 64 warp slots and",
        "shared memory. Cells with one value: sm_80 and sm_90 agree.",
        "",
        f"**Summary**: {len(rows)} variants per arch ({verdict}); max registers "
        f"{registers[0]} (sm_80) / {registers[1]} (sm_90); max shared memory {shared[0]} / "
        f"{shared[1]} B per block. Compiled in {seconds:.0f} s on {os.cpu_count()} logical "
        f"CPUs at load average {os.getloadavg()[0]:.1f}.",
        "",
    ]
    if problems:
        out += ["**Problems**:", "", *problems, ""]
    out += [
        "**First things to time on a GPU** (nothing is changed until measured):",
        "",
        *occupancy_findings(rows),
        *load_findings(rows),
        "",
        "| kernel | input | constexprs | warps | used by | registers sm_80 / sm_90 "
        "| shared B | blocks/SM | load widths (bits) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for v, r80, r90 in rows:
        widths = [", ".join(map(str, r.load_bits)) for r in (r80, r90)]
        out.append(
            f"| {v.name} | {v.dtype} | {v.describe()} | {v.num_warps} | {', '.join(v.users)} "
            f"| {r80.registers} / {r90.registers} | {_pair(r80.shared, r90.shared)} "
            f"| {_pair(*_blocks(v, r80, r90))} | {_pair(*widths)} |"
        )
    return "\n".join(out) + "\n"


def replace_section(text: str, new: str) -> str:
    """``text`` with its :data:`HEADING` section replaced by ``new`` (or ``new`` appended)."""
    lines = text.splitlines(keepends=True)
    starts = [i for i, line in enumerate(lines) if line.rstrip() == HEADING]
    if not starts:
        return text.rstrip("\n") + "\n\n" + new
    end = next(
        (i for i in range(starts[0] + 1, len(lines)) if lines[i].startswith("## ")), len(lines)
    )
    tail = "".join(lines[end:])
    return "".join(lines[: starts[0]]) + new + ("\n" + tail if tail else "")


def main(argv: list[str] | None = None) -> int:
    """Print the section (and replace it in ``--out``); returns the exit status."""
    parser = argparse.ArgumentParser(description=DESCRIPTION)
    parser.add_argument("--out", type=Path, help="Markdown file whose section to replace")
    args = parser.parse_args(argv)
    if args.out is not None and not args.out.is_file():
        print(f"error: --out {args.out} is not an existing file; name one", file=sys.stderr)
        return 2
    if triton is None:
        print("error: triton is not importable; pip install triton", file=sys.stderr)
        return 2
    rows, seconds = compile_both()
    new = section(rows, seconds)
    print(new, end="")
    if args.out is not None:
        args.out.write_text(replace_section(args.out.read_text(), new))
    return 1 if "**Problems**" in new else 0
