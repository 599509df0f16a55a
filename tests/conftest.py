"""Shared fixtures: a synthetic COCO set, a tiny Mask R-CNN run config, a tool runner."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def synthetic_coco(tmp_path_factory) -> Path:
    """Root of a synthetic shapes set: 8 train and 3 val images of 128 px."""
    from mmdet_evonorm.data_builders.synthetic import make_synthetic_coco

    root = tmp_path_factory.mktemp("synthetic_coco")
    make_synthetic_coco(root, "train", num_images=8)
    make_synthetic_coco(root, "val", num_images=3)
    return root


def _tiny_run_config(data_root: Path) -> dict:
    """Iteration-based config of the tiny R18 Mask R-CNN on the synthetic set."""
    from mmdet_evonorm.data_builders.synthetic import CLASSES
    from mmdet_evonorm.testing import get_tiny_mask_rcnn_cfg

    def loader(split: str, batch_size: int) -> dict:
        pipeline = [
            dict(type="LoadImageFromFile"),
            dict(type="LoadAnnotations", with_bbox=True, with_mask=True),
            dict(type="Resize", scale=(128, 128), keep_ratio=True),
            dict(type="PackDetInputs"),
        ]
        dataset = dict(
            type="CocoDataset",
            data_root=str(data_root),
            ann_file=f"annotations/instances_{split}.json",
            data_prefix=dict(img=f"{split}/"),
            metainfo=dict(classes=CLASSES),
            filter_cfg=dict(filter_empty_gt=split == "train"),
            test_mode=split != "train",
            pipeline=pipeline,
        )
        sampler = dict(type="DefaultSampler", shuffle=split == "train")
        return dict(batch_size=batch_size, num_workers=0, sampler=sampler, dataset=dataset)

    model = get_tiny_mask_rcnn_cfg(num_classes=len(CLASSES)).to_dict()
    model["test_cfg"]["rcnn"]["max_per_img"] = 20
    val_ann = str(data_root / "annotations/instances_val.json")
    evaluator = dict(type="CocoMetric", ann_file=val_ann, metric=["bbox", "segm"])
    return dict(
        default_scope="mmdet",
        custom_imports=dict(imports=["mmdet_evonorm"], allow_failed_imports=False),
        model=model,
        train_dataloader=loader("train", 2),
        val_dataloader=loader("val", 1),
        test_dataloader=loader("val", 1),
        val_evaluator=evaluator,
        test_evaluator=evaluator,
        train_cfg=dict(type="IterBasedTrainLoop", max_iters=3, val_interval=100),
        val_cfg=dict(type="ValLoop"),
        test_cfg=dict(type="TestLoop"),
        optim_wrapper=dict(optimizer=dict(type="SGD", lr=0.01, momentum=0.9, weight_decay=1e-4)),
        param_scheduler=[dict(type="MultiStepLR", by_epoch=False, milestones=[2])],
        default_hooks=dict(
            timer=dict(type="IterTimerHook"),
            logger=dict(type="LoggerHook", interval=1),
            param_scheduler=dict(type="ParamSchedulerHook"),
            checkpoint=dict(type="CheckpointHook", by_epoch=False, interval=2),
            sampler_seed=dict(type="DistSamplerSeedHook"),
            visualization=dict(type="DetVisualizationHook"),
        ),
        env_cfg=dict(cudnn_benchmark=False, dist_cfg=dict(backend="nccl")),
        visualizer=dict(type="DetLocalVisualizer", vis_backends=[dict(type="LocalVisBackend")]),
        log_processor=dict(type="LogProcessor", window_size=1, by_epoch=False),
        log_level="INFO",
        randomness=dict(seed=0),
        load_from=None,
        resume=False,
    )


@pytest.fixture
def work_dir(tmp_path) -> Path:
    """A work dir from an earlier run, whose files must survive bad input untouched."""
    folder = tmp_path / "work"
    folder.mkdir()
    (folder / "iter_2.pth").write_bytes(b"earlier checkpoint")
    (folder / "last_checkpoint").write_text(str(folder / "iter_2.pth"))
    return folder


@pytest.fixture
def tiny_config(tmp_path, synthetic_coco) -> Callable[..., Path]:
    """``make(name='tiny.py', **{'a.b': value})`` writes the tiny run config with overrides.

    It trains 3 iterations (batch 2, 128 px), checkpoints at 2 and 3 and tests on
    3 images with COCO bbox + segm metrics.
    """
    from mmengine.config import Config

    def make(name: str = "tiny.py", **overrides) -> Path:
        cfg = Config(_tiny_run_config(synthetic_coco))
        cfg.merge_from_dict(overrides)
        path = tmp_path / name
        cfg.dump(str(path))
        return path

    return make


def run_tool(
    *args: str, env: dict | None = None, timeout: int = 300
) -> subprocess.CompletedProcess:
    """Run a ``tools/`` script (``.py`` with this interpreter, ``.sh`` with bash) in the repo root.

    One intra-op thread per process: the tiny model gains nothing from more, and
    the test machines are small and shared.
    """
    script = str(REPO / args[0])
    command = [sys.executable, script] if script.endswith(".py") else ["bash", script]
    return subprocess.run(
        [*command, *map(str, args[1:])],
        cwd=REPO,
        env={**os.environ, "OMP_NUM_THREADS": "1", "PYTHON": sys.executable, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture
def tool() -> Callable[..., subprocess.CompletedProcess]:
    return run_tool


@pytest.fixture(autouse=True)
def fresh_mmengine_loggers():
    """Drop mmengine's loggers after each test.

    An ``MMLogger`` keeps the ``sys.stdout`` it was created with; created under
    ``capsys`` (e.g. by a registry lookup's debug line), that stream is closed after
    the test, and every later log line ends as a ``--- Logging error ---`` traceback
    on the stderr a bad-input test reads.
    """
    yield
    from mmengine.logging import MMLogger

    for logger in MMLogger._instance_dict.values():
        for handler in logger.handlers:
            handler.close()
    MMLogger._instance_dict.clear()
