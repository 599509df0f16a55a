"""Fixtures of the RoI-head tests (plain helpers live in ``roi_heads_helpers.py``)."""

import pytest
import torch

import mmdet_evonorm  # noqa: F401  (registers EvoNormS0 and the heads)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
