"""mmdet_evonorm.benchmark.flops: 1 FLOP per multiply-add with either counter."""

from __future__ import annotations

from functools import partial

import pytest
import torch
from torch import nn

from mmdet_evonorm.benchmark.flops import count_flops

CONV_MACS = 8 * 3 * 9 * 16 * 16  # out x in x kernel x output pixels


class _ConvDetector(nn.Module):
    """A conv with mmdet's ``forward(inputs, data_samples, mode)``; may refuse tracing."""

    def __init__(self, traceable: bool) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.traceable = traceable

    def forward(self, inputs, data_samples=None, mode="tensor"):
        if torch.jit.is_tracing() and not self.traceable:
            raise RuntimeError("cannot trace")
        return self.conv(inputs)


@pytest.mark.parametrize("traceable", [True, False])
def test_one_per_multiply_add_with_either_counter(traceable):
    model = _ConvDetector(traceable)
    forward = partial(model.forward, data_samples=[], mode="tensor")
    flops, method = count_flops(model, (torch.randn(1, 3, 16, 16),), forward)
    assert flops == CONV_MACS
    expected = "mmengine FlopAnalyzer" if traceable else "FlopCounterMode (FlopAnalyzer failed:"
    assert method.startswith(expected)
    if not traceable:
        assert "RuntimeError: cannot trace" in method
    assert type(model).forward is _ConvDetector.forward and "forward" not in vars(model)


def test_without_tracing_flop_counter_mode_counts_attention():
    attention = nn.MultiheadAttention(8, 1, bias=False, batch_first=True)
    x = torch.randn(1, 4, 8)
    flops, method = count_flops(attention, (x, x, x), trace=False)
    assert method == "FlopCounterMode"
    # in and out projections (4 x 4 tokens x 8 x 8) + scores and weighted sum (2 x 4 x 4 x 8)
    assert flops == 4 * 4 * 8 * 8 + 2 * 4 * 4 * 8
