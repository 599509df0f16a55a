"""tools/quickstart.py end to end: a 2-iteration smoke run and the untrained baseline."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

from mmdet_evonorm.quickstart import PICTURE, main

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def nuclei_root(tmp_path_factory) -> Path:
    from mmdet_evonorm.data_builders.nuclei import NucleiDatasetError, ensure_nuclei_dataset

    root = tmp_path_factory.mktemp("data") / "nuclei"
    try:
        return ensure_nuclei_dataset(root)[0]
    except NucleiDatasetError as err:
        pytest.skip(f"PyPI unreachable, cannot fetch stardist==0.9.2: {err}")


def _table(out: str) -> dict[str, list[float]]:
    """``{row label: [bbox, segm]}`` from the printed metrics table."""
    rows = re.findall(r"^(\S.*?)\s{2,}(-?\d\.\d{3})\s+(-?\d\.\d{3})$", out, re.M)
    return {label: [float(bbox), float(segm)] for label, bbox, segm in rows}


@pytest.mark.slow
def test_two_iteration_smoke_run(nuclei_root, tmp_path, monkeypatch, capsys):
    import cv2

    torch.manual_seed(0)
    monkeypatch.chdir(REPO)
    work_dir = tmp_path / "work"
    argv = ["--work-dir", str(work_dir), "--data-root", str(nuclei_root), "--max-iters", "2"]
    assert main(argv, repo=REPO) == 0
    out = capsys.readouterr().out

    from mmdet_evonorm.analysis.results_table import SEED_COLUMNS

    rows = _table(out)
    assert list(rows) == list(SEED_COLUMNS)
    assert all(len(v) == 2 and all(-1 <= x <= 1 for x in v) for v in rows.values())
    assert rows["mAP (large)"] == [-1.0, -1.0]  # every nucleus is COCO "small"

    picture = cv2.imread(str(work_dir / PICTURE))
    assert picture.shape == (256, 512, 3)  # ground truth | predictions, 256 px each
    checkpoint = torch.load(work_dir / "iter_2.pth", weights_only=True)
    assert checkpoint["meta"]["iter"] == 2


@pytest.mark.slow
def test_untrained_baseline_run(nuclei_root, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(REPO)
    work_dir = tmp_path / "work"
    argv = ["--work-dir", str(work_dir), "--data-root", str(nuclei_root), "--max-iters", "0"]
    assert main(argv, repo=REPO) == 0
    rows = _table(capsys.readouterr().out)
    assert len(rows) == 12 and rows["mAP"][0] < 0.1  # random init finds (almost) nothing
    state = torch.load(work_dir / "untrained.pth", weights_only=True)["state_dict"]
    assert any(key.startswith("roi_head.mask_head") for key in state)
    assert not list(work_dir.glob("iter_*.pth"))  # nothing was trained
