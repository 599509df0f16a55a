"""mmdet_evonorm.benchmark.rows: options, tables and targets, trained checkpoints."""

from __future__ import annotations

import pytest
import torch
from mmengine.config import Config

from mmdet_evonorm.benchmark import rows
from mmdet_evonorm.benchmark.cli import parse_args
from mmdet_evonorm.benchmark.timing import Series
from mmdet_evonorm.testing import build_detector


def _result(train: list[float], infer: list[float], flops: float) -> dict:
    """Fake results whose CPU times are half the wall times."""
    return dict(
        params=1e6,
        flops=flops,
        flops_method="x",
        mem_train=2**20,
        mem_infer=2**20,
        detections=5.0,
        times={
            "train": Series(train, [t / 2 for t in train]),
            "infer": Series(infer, [t / 2 for t in infer]),
        },
    )


@pytest.fixture
def fake():
    results = {
        "B1": _result([1.0, 2.0, 1.0], [1.0, 1.0, 2.0], 10e9),
        "C3": _result([1.1, 2.2, 1.1], [2.0, 2.0, 4.0], 20e9),
        "C4": _result([1.2, 2.4, 1.2], [2.4, 2.4, 4.8], 22e9),
    }
    owner = {"B1": "B1", "B1-cosine": "B1", "C3": "C3", "C4": "C4"}
    return results, owner


def test_rows_table_ratios_and_twins(fake):
    results, owner = fake
    table = rows.rows_table(results, owner, num_images=2).markdown()
    assert "| B1-cosine (model of B1) |" in table
    c4 = next(line for line in table.splitlines() if line.startswith("| C4 |"))
    # train CPU 600 ms (1.20x B1), wall 1200 ms (1.67 images/s); inference CPU 600 ms /
    # image (2.40x B1), wall 1200 ms
    assert "| 600 | 1.20 | 1200 | 1.20 | 1.67 | 600 | 2.40 | 1200 | 2.40 |" in c4


def _targets(results, owner, device="cpu", batch=2) -> list[str]:
    args = parse_args(rows, ["--batch", str(batch)])
    args.device = device
    return rows.checks_table(rows.checks(results, owner, args)).markdown().splitlines()[2:]


def test_targets_judged_on_the_devices_clock(fake):
    results, owner = fake
    assert _targets(results, owner) == [
        "| C4 train step ≤ 1.15× C3 | 1.09× | 1.09× | 1.09× | 1.10× | yes |",
        "| C4 inference ≤ 1.10× C3 | 1.20× | 1.20× | 1.20× | 1.10× | **no** |",
        "| C4 inference ≤ 1.20× B1 | 2.40× | 2.40× | 2.40× | 2.20× | **no** |",
    ]  # C2 and C1 were not run: their targets are left out
    results["C4"]["times"]["infer"] = Series([2.4, 2.4, 4.8], [0.5, 0.5, 1.0])
    cpu = _targets(results, owner)[2]
    assert cpu == "| C4 inference ≤ 1.20× B1 | 1.00× | 1.00× | 2.40× | 2.20× | yes |"
    cuda = _targets(results, owner, device="cuda")
    assert cuda[2] == "| C4 inference ≤ 1.20× B1 | 2.40× | 1.00× | 2.40× | 2.20× | **no** |"
    # on a GPU also B1's training rate: 2 images in a median 1 s
    assert cuda[3] == "| B1 train step ≥ 40 images/s | 2.0 images/s | — | — | — | **no** |"


def test_report_json_holds_figures_and_targets(fake, monkeypatch, tmp_path):
    results, owner = fake
    monkeypatch.setattr(rows, "measure", lambda args: (results, owner, {}))
    args = parse_args(rows, ["--rows", "B1", "C3", "C4", "--out", str(tmp_path / "r.md")])
    report = rows.run(args)
    report.write(args.out)
    assert (tmp_path / "r.md").read_text().startswith("# Per-row cost (cpu)\n\nCommand: `python")
    targets = report.checks
    assert [t.met for t in targets] == [True, False, False]
    assert report.figures["models"]["C4"]["times"]["infer"]["wall"] == [2.4, 2.4, 4.8]


def test_rejects_unknown_or_missing_rows(capsys):
    with pytest.raises(SystemExit):
        parse_args(rows, ["--rows", "B1", "Z9"])
    assert "unknown row 'Z9'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse_args(rows, ["--rows", "C4"])
    assert "must include the baseline B1" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse_args(rows, ["--profile", "C4", "--rows", "B1"])
    assert "every profiled row must be in --rows" in capsys.readouterr().err


@pytest.fixture
def trained_rows(tiny_config, tmp_path):
    """``{row: (checkpoint, config)}`` of two tiny models in their own folders, as an
    ablation leaves them: B1 with mmdet's 2-FC box head, C4 with the sephv2 head.
    Random weights; the score threshold 0.3 lets only part of the RoIs through."""
    heads = {"B1": {}, "C4": {"model.roi_head.bbox_head.type": "SepHV2BBoxHead"}}
    found = {}
    for row, head in heads.items():
        (tmp_path / row).mkdir()
        config = tiny_config(f"{row}/{row}.py", **{"model.test_cfg.rcnn.score_thr": 0.3}, **head)
        torch.manual_seed(0)
        model = build_detector(Config.fromfile(str(config)).model)
        model.init_weights()
        checkpoint = tmp_path / row / "iter_3.pth"
        torch.save({"state_dict": model.state_dict(), "meta": {}}, checkpoint)
        found[row] = (checkpoint, config)
    return found


def test_trained_checkpoints_gated_and_ungated(trained_rows):
    items = [f"{row}={checkpoint}" for row, (checkpoint, _) in trained_rows.items()]
    args = parse_args(rows, ["--checkpoint", *items, "--ungated", "C4", "--rounds", "2"])
    report = rows.run(args)
    table = {row[0]: row[1:] for row in report.table.rows}
    assert list(table) == ["B1", "C4", "C4 ungated"]
    assert table["C4"][0] == "ScoreGatedRoIHead" and table["C4 ungated"][0] == "StandardRoIHead"
    classified, regressed, detections = (float(v) for v in table["C4"][1:4])
    assert 0 < regressed < classified and detections > 0  # the gate skipped some RoIs
    ungated = table["C4 ungated"]
    assert ungated[1] == ungated[2] == table["C4"][1]  # every RoI classified and regressed
    assert ungated[3] == table["C4"][3]  # the same detections per image
    assert table["B1"][5] == "1.00"
    assert [c.target for c in report.checks] == ["C4 inference ≤ 1.20× B1"]
    assert report.checks[0].details["FLOPs ratio"] == "—"  # RoIs counted instead
    assert "the first 2 image(s) of the test set" in report.markdown


def test_rejects_bad_checkpoints(trained_rows, tmp_path, capsys):
    (b1, _), (c4, c4_config) = trained_rows["B1"], trained_rows["C4"]
    cases = {
        f"C4={tmp_path / 'missing.pth'}": "missing.pth: no such file",
        f"C4={c4},{tmp_path / 'none.py'}": "none.py: no such config file",
        f"Z9={c4}": "unknown row 'Z9'",
        "C4": "expected ROW=PATH or ROW=PATH,CONFIG",
    }
    for item, message in cases.items():
        with pytest.raises(SystemExit):
            parse_args(rows, ["--checkpoint", f"B1={b1}", item])
        assert message in capsys.readouterr().err
    (c4.parent / "other.py").write_text(c4_config.read_text())
    with pytest.raises(SystemExit):
        parse_args(rows, ["--checkpoint", f"B1={b1}", f"C4={c4}"])
    assert "2 configs (*.py) next to the checkpoint" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse_args(rows, ["--checkpoint", f"B1={b1}", f"C4={c4},{c4_config}", "--rows", "B1"])
    assert "give one for every row of --rows" in capsys.readouterr().err
