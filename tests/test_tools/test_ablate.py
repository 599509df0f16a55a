"""tools/ablate.py: both presets end to end, resume/skip, bad input (one line, exit 2)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from mmengine.config import Config

from mmdet_evonorm.testing import load_script, single_error_line, snapshot

REPO = Path(__file__).resolve().parents[2]
FULL_METRIC = {"val_evaluator.type": "FullCocoMetric", "test_evaluator.type": "FullCocoMetric"}


def _rows(table: str, iou_type: str) -> dict[str, list[str]]:
    section = table.split(f"#### {iou_type}")[1].split("####")[0]
    lines = [line.strip("|").split("|") for line in section.splitlines() if line.startswith("|")]
    return {cells[0]: cells for cells in lines[2:]}


def _train_logs(run_dir: Path) -> list[Path]:
    return sorted(run_dir.glob("*/vis_data/scalars.json"))


@pytest.fixture
def tiny_rows(tiny_config) -> list[Path]:
    """Two tiny rows on the synthetic set that differ in the box head's FC width."""
    return [
        tiny_config("tiny_a.py", **FULL_METRIC),
        tiny_config("tiny_b.py", **FULL_METRIC, **{"model.roi_head.bbox_head.fc_out_channels": 32}),
    ]


@pytest.mark.slow
def test_coco_preset_end_to_end_resume_and_refusal(tool, tiny_rows, tmp_path):
    work = tmp_path / "ablation"
    argv = ["tools/ablate.py", *tiny_rows, "--preset", "coco", "--schedule", "0.67"]
    argv += ["--train-subset", "4", "--work-dir", work]
    done = tool(*argv)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "run 1/2, row tiny_a fold 0 seed 0, eta after the first run" in done.stdout
    assert "run 2/2, row tiny_b fold 0 seed 0, eta " in done.stdout

    cfg = Config.fromfile(str(work / "configs" / "tiny_b_fold0_seed0.py"))
    assert cfg.train_cfg.max_iters == 2  # 3 x 0.67
    assert cfg.param_scheduler[0].milestones == [1]  # [2] x 0.67
    assert cfg.train_dataloader.dataset.indices == 4
    assert cfg.model.roi_head.bbox_head.fc_out_channels == 32
    table = (work / "ablation.md").read_text()
    bbox = _rows(table, "bbox")
    assert list(bbox) == ["tiny_a", "tiny_b"] and bbox["tiny_a"][2] == "1"
    assert all(-1 <= float(cell) <= 1 for cell in bbox["tiny_b"][3:15])  # one run: no ±
    assert (work / "ablation.png").read_bytes()[:4] == b"\x89PNG"

    # same command again: both runs finished, nothing retrained or retested
    before = snapshot(work / "tiny_a_fold0_seed0")
    again = tool(*argv)
    assert again.returncode == 0, again.stderr[-3000:]
    assert again.stdout.count("finished earlier, skipped") == 2
    assert snapshot(work / "tiny_a_fold0_seed0") == before

    # a run interrupted after training: tested again, not retrained
    run_b = work / "tiny_b_fold0_seed0"
    (test_dir,) = {p.parent for p in run_b.glob("*/*.json") if p.stem == p.parent.name}
    shutil.rmtree(test_dir)
    checkpoint = (run_b / "iter_2.pth").read_bytes()
    trained = _train_logs(run_b)
    resumed = tool(*argv)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "run 2/2, row tiny_b fold 0 seed 0" in resumed.stdout
    assert (run_b / "iter_2.pth").read_bytes() == checkpoint
    assert [p for p in _train_logs(run_b) if "Iter(train)" in p.read_text()] == [
        p for p in trained if "Iter(train)" in p.read_text()
    ]

    # another configuration in the same work dir: refused, nothing touched
    before = snapshot(work)
    other = tool(*[a if a != "0.67" else "1.0" for a in argv])
    assert other.returncode == 2
    line = single_error_line(other.stderr)
    assert str(work) in line and "tiny_a_fold0_seed0" in line and "another configuration" in line
    assert snapshot(work) == before


@pytest.fixture(scope="module")
def nuclei_folds(tmp_path_factory) -> Path:
    from mmdet_evonorm.datasets.nuclei import NucleiDatasetError, ensure_nuclei_folds

    root = tmp_path_factory.mktemp("data")
    cached = sorted((REPO / "data" / "sources").glob("stardist-0.9.2-*.whl"))
    if cached:
        (root / "sources").mkdir()
        shutil.copy(cached[0], root / "sources")
    try:
        ensure_nuclei_folds(root / "nuclei_folds", 2)
    except NucleiDatasetError as err:
        pytest.skip(f"PyPI unreachable, cannot fetch stardist==0.9.2: {err}")
    return root / "nuclei_folds"


@pytest.mark.slow
def test_nuclei_preset_two_rows_two_folds(tool, nuclei_folds, tmp_path):
    """The issue's command: B1 C2 --preset nuclei --folds 2 --seeds 1 --iters 20."""
    work = tmp_path / "ablation"
    argv = ["tools/ablate.py", "B1", "C2", "--preset", "nuclei", "--folds", "2", "--seeds", "1"]
    argv += ["--iters", "20", "--jobs", "2", "--data-root", nuclei_folds, "--work-dir", work]
    done = tool(*argv, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    order = [line.split(", eta")[0] for line in done.stdout.splitlines() if ", eta" in line]
    assert order == [
        "[ablate] run 1/4, row B1 fold 0 seed 0",
        "[ablate] run 2/4, row C2 fold 0 seed 0",
        "[ablate] run 3/4, row B1 fold 1 seed 0",
        "[ablate] run 4/4, row C2 fold 1 seed 0",
    ]
    cfg = Config.fromfile(str(work / "configs" / "C2_fold1_seed0.py"))
    assert cfg.train_dataloader.dataset.data_root == f"{nuclei_folds}/fold_1/"
    assert cfg.model.backbone.depth == 18 and cfg.param_scheduler[-1].type == "CosineAnnealingLR"
    assert Config.fromfile(str(work / "configs" / "B1_fold0_seed0.py")).param_scheduler[
        -1
    ].milestones == [13, 17]  # B1's own multistep, scaled to 20 iterations
    for iou_type in ("bbox", "segm"):
        rows = _rows((work / "ablation.md").read_text(), iou_type)
        assert list(rows) == ["B1", "C2"] and rows["C2"][2] == "2"
        assert " ± " in rows["C2"][3] and rows["B1"][-4] == "+0.000"
    assert (work / "ablation.png").is_file()


@pytest.fixture(scope="module")
def ablate():
    return load_script(REPO / "tools" / "ablate.py")


@pytest.mark.parametrize(
    "args, named",
    [
        (["B1", "Z9"], "unknown row or config 'Z9'"),
        (["B1", "configs/nope.py"], "configs/nope.py"),
        (["B1", "B1"], "row 'B1' is given twice"),
        (["B1", "--folds", "5"], "--folds 5: the nuclei image has 4 quadrants"),
        (["B1", "--preset", "coco", "--folds", "2"], "--folds 2: the coco preset has one"),
        (["B1", "--seeds", "0"], "--seeds 0"),
    ],
)
def test_bad_input_is_one_line(ablate, capsys, tmp_path, args, named):
    work = tmp_path / "ablation"
    argv = [*args, "--work-dir", str(work), "--data-root", str(tmp_path / "none")]
    assert ablate.main(argv) == 2
    assert named in single_error_line(capsys.readouterr().err)
    assert not work.exists() and not (tmp_path / "none").exists()


@pytest.mark.parametrize(
    "args", [["B1", "--schedule", "0.1"], ["B1", "--preset", "coco", "--iters", "5"]]
)
def test_options_of_the_other_preset_are_refused(ablate, capsys, tmp_path, args):
    with pytest.raises(SystemExit) as info:
        ablate.main([*args, "--work-dir", str(tmp_path / "w")])
    assert info.value.code == 2 and "belong" in capsys.readouterr().err.splitlines()[-1]
    assert not (tmp_path / "w").exists()
