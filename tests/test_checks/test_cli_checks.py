"""Bad input to tools/train.py and tools/test.py: one ``error:`` line, status 2, no writes.

The entry points are called in-process (``run_train`` / ``run_test``); the
subprocess behaviour of the scripts themselves is covered in tests/test_tools.
"""

from __future__ import annotations

import os

import pytest
import torch
from helpers import single_error_line, snapshot

from mmdet_evonorm.engine.cli import run_test, run_train


def _error_line(capsys) -> str:
    return single_error_line(capsys.readouterr().err)


def test_missing_config(capsys, tmp_path):
    assert run_train([str(tmp_path / "nope.py")]) == 2
    line = _error_line(capsys)
    assert "nope.py" in line and "not found" in line


def test_data_root_without_annotation_file(capsys, tiny_config, tmp_path, work_dir):
    empty_root = tmp_path / "empty_root"
    empty_root.mkdir()
    config = tiny_config(**{"train_dataloader.dataset.data_root": str(empty_root)})
    before = snapshot(work_dir)
    assert run_train([str(config), "--work-dir", str(work_dir)]) == 2
    line = _error_line(capsys)
    assert str(empty_root / "annotations/instances_train.json") in line
    assert "train_dataloader.dataset" in line and "--cfg-options" in line
    assert snapshot(work_dir) == before
    assert sorted(os.listdir(work_dir)) == ["iter_2.pth", "last_checkpoint"]


def test_missing_evaluator_annotation_file(capsys, tiny_config, tmp_path, work_dir):
    config = tiny_config(**{"test_evaluator.ann_file": str(tmp_path / "gone.json")})
    ckpt = tmp_path / "weights.pth"
    torch.save({"state_dict": {}}, ckpt)
    assert run_test([str(config), str(ckpt), "--work-dir", str(work_dir)]) == 2
    assert "test_evaluator.ann_file" in _error_line(capsys)
    assert sorted(os.listdir(work_dir)) == ["iter_2.pth", "last_checkpoint"]


def test_unknown_model_type(capsys, tiny_config, work_dir):
    config = tiny_config()
    before = snapshot(work_dir)
    args = [str(config), "--work-dir", str(work_dir), "--cfg-options", "model.type=MaskRCNNX"]
    assert run_train(args) == 2
    line = _error_line(capsys)
    assert "model.type='MaskRCNNX'" in line and "custom_imports" in line
    assert snapshot(work_dir) == before
    assert sorted(os.listdir(work_dir)) == ["iter_2.pth", "last_checkpoint"]


def test_unknown_nested_type_is_one_line_and_overwrites_nothing(capsys, tiny_config, work_dir):
    config = tiny_config()
    before = snapshot(work_dir)
    args = [str(config), "--work-dir", str(work_dir), "--cfg-options", "model.neck.type=FPNX"]
    assert run_train(args) == 2
    assert "model.neck.type='FPNX' is not in the mmdet::model registry" in _error_line(capsys)
    assert {path: snapshot(work_dir)[path] for path in before} == before


def test_missing_checkpoint(capsys, tiny_config, tmp_path):
    assert run_test([str(tiny_config()), str(tmp_path / "none.pth")]) == 2
    assert "none.pth" in _error_line(capsys)


class _FileCreatingPayload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def _malicious_checkpoint(folder):
    marker = folder / "pwned"
    path = folder / "evil.pth"
    torch.save({"state_dict": {}, "meta": {"x": _FileCreatingPayload(marker)}}, path)
    return path, marker


def test_resume_auto_refuses_a_malicious_last_checkpoint(capsys, tiny_config, tmp_path, work_dir):
    evil, marker = _malicious_checkpoint(tmp_path)
    (work_dir / "last_checkpoint").write_text(str(evil))
    before = snapshot(work_dir)
    assert run_train([str(tiny_config()), "--work-dir", str(work_dir), "--resume"]) == 2
    line = _error_line(capsys)
    assert "evil.pth" in line and "--resume auto" in line and "convert_checkpoint.py" in line
    assert not marker.exists()
    assert snapshot(work_dir) == before


def test_resume_from_malicious_path(capsys, tiny_config, tmp_path):
    evil, marker = _malicious_checkpoint(tmp_path)
    assert run_train([str(tiny_config()), "--resume", str(evil)]) == 2
    assert "weights_only=True" in _error_line(capsys)
    assert not marker.exists()


def test_out_must_be_a_pickle(capsys, tiny_config, tmp_path):
    ckpt = tmp_path / "weights.pth"
    torch.save({"state_dict": {}}, ckpt)
    assert run_test([str(tiny_config()), str(ckpt), "--out", "results.json"]) == 2
    assert ".pkl" in _error_line(capsys)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only message")
def test_amp_without_accelerator(capsys, tiny_config):
    assert run_train([str(tiny_config()), "--amp"]) == 2
    assert "--amp" in _error_line(capsys)


def test_auto_scale_lr_needs_config_entry(capsys, tiny_config):
    assert run_train([str(tiny_config()), "--auto-scale-lr"]) == 2
    assert "auto_scale_lr" in _error_line(capsys)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU launcher path")
def test_launcher_without_torchrun_environment(capsys, monkeypatch, tiny_config, tmp_path):
    for key in ("RANK", "WORLD_SIZE", "MASTER_ADDR"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("MASTER_PORT", "29500")
    args = [str(tiny_config()), "--launcher", "pytorch", "--work-dir", str(tmp_path / "w")]
    assert run_train(args) == 2
    assert "RANK, WORLD_SIZE, MASTER_ADDR" in _error_line(capsys)
    assert not (tmp_path / "w").exists()


@pytest.mark.parametrize(
    "option, expected",
    [
        (
            "optim_wrapper.optimizer.lr=-1",
            "optim_wrapper.optimizer (SGD): Invalid learning rate: -1",
        ),
        ("optim_wrapper.optimizer.lrr=0.1", "optim_wrapper.optimizer (SGD): SGD.__init__() got an"),
        ("param_scheduler.0.milestones=2", "param_scheduler[0] (MultiStepLR): 'int' object is not"),
        (
            "param_scheduler.0.begin=5",
            "param_scheduler[0] (MultiStepLR): end should be larger than",
        ),
    ],
)
def test_bad_optimizer_or_scheduler_argument(option, expected, capsys, tiny_config, work_dir):
    before = snapshot(work_dir)
    args = [str(tiny_config()), "--work-dir", str(work_dir), "--cfg-options", option]
    assert run_train(args) == 2
    assert expected in _error_line(capsys)
    assert snapshot(work_dir) == before


@pytest.mark.parametrize("below", [False, True], ids=["the file", "a folder in it"])
def test_work_dir_that_cannot_be_a_folder(below, capsys, tiny_config, tmp_path):
    blocker = tmp_path / "results.txt"
    blocker.write_text("not a folder")
    work_dir = blocker / "run" if below else blocker
    assert run_train([str(tiny_config()), "--work-dir", str(work_dir)]) == 2
    line = _error_line(capsys)
    assert f"work_dir '{work_dir}' cannot be a folder" in line and "is a file" in line
    assert blocker.read_text() == "not a folder"


def test_checkpoint_that_is_a_folder(capsys, tiny_config, work_dir):
    assert run_test([str(tiny_config()), str(work_dir), "--work-dir", str(work_dir)]) == 2
    line = _error_line(capsys)
    expected = f"checkpoint '{work_dir}' (the checkpoint to test) is a folder; pass a checkpoint"
    assert expected in line and f"file in it, e.g. {work_dir}/iter_2.pth" in line
    assert sorted(os.listdir(work_dir)) == ["iter_2.pth", "last_checkpoint"]


def test_check_only_checks_everything_and_writes_nothing(capsys, tiny_config, tmp_path):
    config = str(tiny_config())
    assert run_train([config, "--work-dir", str(tmp_path / "w"), "--check-only"]) == 0
    bad = ["--cfg-options", "optim_wrapper.optimizer.lr=-1"]
    assert run_train([config, "--work-dir", str(tmp_path / "w"), "--check-only", *bad]) == 2
    assert "Invalid learning rate" in _error_line(capsys)
    assert not (tmp_path / "w").exists()
