"""tools/ablate.py end to end: both presets, resume/skip, another configuration refused."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from helpers import single_error_line, snapshot
from mmengine.config import Config

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
    from mmdet_evonorm.data_builders.nuclei import NucleiDatasetError, ensure_nuclei_folds

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
def test_nuclei_preset_two_rows_two_folds_with_bn_arms(tool, nuclei_folds, tmp_path):
    """C1 C2 --preset nuclei --folds 2 --seeds 1 --iters 20: C1 (BN box head) gets the
    Precise BN and batch-statistics arms, C2 (EvoNorm-S0 heads, no BN) is skipped."""
    work = tmp_path / "ablation"
    argv = ["tools/ablate.py", "C1", "C2", "--preset", "nuclei", "--folds", "2", "--seeds", "1"]
    argv += ["--iters", "20", "--jobs", "2", "--data-root", nuclei_folds, "--work-dir", work]
    done = tool(*argv, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    order = [line.split(", eta")[0] for line in done.stdout.splitlines() if ", eta" in line]
    assert order == [
        "[ablate] run 1/4, row C1 fold 0 seed 0",
        "[ablate] run 2/4, row C2 fold 0 seed 0",
        "[ablate] run 3/4, row C1 fold 1 seed 0",
        "[ablate] run 4/4, row C2 fold 1 seed 0",
    ]
    assert "[ablate] threads: 1 intra-op thread(s) per run (OMP_NUM_THREADS" in done.stdout
    cfg = Config.fromfile(str(work / "configs" / "C2_fold1_seed0.py"))
    assert cfg.train_dataloader.dataset.data_root == f"{nuclei_folds}/fold_1/"
    assert cfg.model.backbone.depth == 18 and cfg.param_scheduler[-1].type == "CosineAnnealingLR"
    assert Config.fromfile(str(work / "configs" / "C1_fold0_seed0.py")).param_scheduler[
        -1
    ].milestones == [13, 17]  # C1's own multistep (B1's), scaled to 20 iterations
    table = (work / "ablation.md").read_text()
    assert table.split("\n#### bbox")[1] in done.stdout  # printed as written
    for iou_type in ("bbox", "segm"):
        rows = _rows(table, iou_type)
        assert list(rows) == ["C1", "C2"] and rows["C2"][2] == "2"
        assert " ± " in rows["C2"][3] and rows["C1"][-4] == "+0.000"
    for fold in (0, 1):
        arms = work / f"C1_fold{fold}_seed0" / "arms"
        assert (arms / "precise_bn" / "iter_20_precise_bn.pth").is_file()
        assert all(list((arms / arm).glob("*/*.json")) for arm in ("precise_bn", "batch_stats"))
        assert (work / f"C2_fold{fold}_seed0" / "arms" / "skipped.txt").is_file()
    arms = table.split("#### BN evaluation arms (mAP)")[1].split("####")[0]
    c1 = [line.strip("|").split("|") for line in arms.splitlines() if line.startswith("|C1|")]
    assert [cells[1] for cells in c1] == ["bbox", "segm"]
    assert all(" ± " in cell for cells in c1 for cell in cells[2:5])  # 3 arms x 2 folds
    assert all(cell.endswith("(n=2)") for cells in c1 for cell in cells[5:7])
    assert "|C2|bbox|" in arms and "— (no BN in the RoI heads)" in arms
    assert "#### Paired differences" in table and "|C2 − C1|Precise BN|" in table
    assert (work / "ablation.png").is_file()
