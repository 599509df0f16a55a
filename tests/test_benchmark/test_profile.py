"""mmdet_evonorm.benchmark.profile: torch.profiler tables of a detector's steps."""

from __future__ import annotations

from mmdet_evonorm.benchmark.profile import profile_steps


def test_profile_tables_label_components_and_norms(tiny_c4_bench):
    tiny_c4_bench.infer_step()  # warm-up
    tables = profile_steps(tiny_c4_bench, top=3)
    assert list(tables) == ["train", "infer"]
    for table in tables.values():
        lines = table.splitlines()
        assert lines[0].startswith("step wall time ") and lines[0].endswith("ms (with profiler)")
        assert lines[2] == "| label / operator | calls | time | share of step |"
        assert "`module:backbone` (forward, inclusive)" in table
        assert "`norm:EvoNormS0` (forward, inclusive)" in table
        assert sum(line.endswith("(self) |") or "(self) |" in line for line in lines) == 3
    assert list(profile_steps(tiny_c4_bench, steps=("infer",))) == ["infer"]
