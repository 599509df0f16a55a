"""tools/make_synthetic_coco.py end to end: the same bytes as the builder, nothing overwritten."""

from __future__ import annotations

from mmdet_evonorm.data_builders.synthetic import make_synthetic_coco


def _tree(root):
    return {p.relative_to(root): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_tool_is_deterministic_and_never_overwrites(tool, tmp_path):
    """The tool in a fresh process writes the same bytes as the function here; seeds matter."""
    first, second, other = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    run = tool("tools/make_synthetic_coco.py", first, "--splits", "train=3", "val=2", "--seed", 0)
    assert run.returncode == 0, run.stderr
    for out, seed in ((second, 0), (other, 1)):
        make_synthetic_coco(out, "train", num_images=3, seed=seed)
        make_synthetic_coco(out, "val", num_images=2, seed=seed)
    assert _tree(first) == _tree(second)
    assert len(_tree(first)) == 2 + 3 + 2  # two annotation files, five PNGs
    assert _tree(first) != _tree(other)

    before = _tree(first)
    run = tool("tools/make_synthetic_coco.py", first, "--splits", "train=3")
    assert run.returncode == 2
    assert run.stderr.startswith("error:") and "already exists" in run.stderr
    assert _tree(first) == before
