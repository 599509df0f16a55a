"""A tiny detector bench shared by the detector-level tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from mmengine.config import Config

from mmdet_evonorm.benchmark.detector import BenchmarkInput, ModelBench
from mmdet_evonorm.testing import shrink_for_cpu

C4 = Path(__file__).resolve().parents[2] / "configs/mask_rcnn_fpn3_sephv2_evonorm_cosine.py"


@pytest.fixture(scope="module")
def tiny_c4_bench() -> ModelBench:
    """Row C4 with an R18 backbone and width 32 (``shrink_for_cpu``), one 64x96 image."""
    cfg = Config.fromfile(str(C4))
    cfg.model = shrink_for_cpu(cfg.model, width=32)
    return ModelBench(cfg, BenchmarkInput(64, 96, num_images=1))
