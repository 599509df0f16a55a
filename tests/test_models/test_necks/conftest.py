"""Shared inputs for the neck-stage tests: small pyramids with odd sizes."""

from __future__ import annotations

import pytest
import torch

import mmdet_evonorm  # noqa: F401  (registers EvoNormS0 and the stages)

# Stride-8..128 map sizes of a 200×300 image (odd, uneven ratios between levels).
ODD_SIZES = [(25, 38), (13, 19), (7, 10), (4, 5), (2, 3)]
NORM_CFGS = [
    dict(type="EvoNormS0"),
    dict(type="BN"),
    dict(type="GN", num_groups=32),
]


@pytest.fixture(params=NORM_CFGS, ids=lambda cfg: cfg["type"])
def norm_cfg(request):
    """Each norm the stages must work with: EvoNorm-S0, BN and GN."""
    return dict(request.param)


@pytest.fixture
def pyramid():
    """Factory: random maps ``(2, C_k, H_k, W_k)`` for the given channels and sizes."""

    def make(channels, sizes=ODD_SIZES, dtype=torch.float32, requires_grad=False):
        gen = torch.Generator().manual_seed(0)
        return tuple(
            torch.randn(2, c, h, w, generator=gen, dtype=dtype).requires_grad_(requires_grad)
            for c, (h, w) in zip(channels, sizes, strict=False)
        )

    return make


@pytest.fixture
def assert_all_params_get_grad():
    """Checker: every parameter of a module has a finite, non-zero gradient."""

    def check(module: torch.nn.Module) -> None:
        for name, param in module.named_parameters():
            assert param.grad is not None, f"{name} got no gradient"
            assert torch.isfinite(param.grad).all(), f"{name}: non-finite gradient"
            assert param.grad.abs().sum() > 0, f"{name} got a zero gradient"

    return check
