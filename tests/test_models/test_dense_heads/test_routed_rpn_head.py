"""RoutedRPNHead: RPNHead on a suffix of the neck outputs."""

from __future__ import annotations

import pytest
import torch
from mmdet.models.dense_heads import RPNHead
from mmdet.registry import MODELS

import mmdet_evonorm  # noqa: F401  (registers RoutedRPNHead)

WIDTH = 16
ANCHORS = dict(type="AnchorGenerator", scales=[8], ratios=[0.5, 1.0, 2.0], strides=[8, 16, 32, 64])


def heads(start_level: int):
    torch.manual_seed(0)
    routed = MODELS.build(
        dict(
            type="RoutedRPNHead",
            start_level=start_level,
            in_channels=WIDTH,
            feat_channels=WIDTH,
            anchor_generator=ANCHORS,
        )
    )
    plain = RPNHead(in_channels=WIDTH, feat_channels=WIDTH, anchor_generator=ANCHORS)
    plain.load_state_dict(routed.state_dict())
    return routed, plain


@pytest.mark.parametrize("start_level", [0, 1, 2])
def test_forward_equals_rpn_head_on_the_suffix(start_level):
    routed, plain = heads(start_level)
    gen = torch.Generator().manual_seed(0)
    sizes = [(16, 20), (16, 20), (8, 10), (4, 5), (2, 3), (1, 2)]
    x = tuple(torch.randn(2, WIDTH, h, w, generator=gen) for h, w in sizes)
    got, want = routed(x), plain(x[start_level:])
    assert len(got[0]) == len(x) - start_level
    for got_maps, want_maps in zip(got, want, strict=True):
        for g, w in zip(got_maps, want_maps, strict=True):
            torch.testing.assert_close(g, w, rtol=0, atol=0)


def test_negative_start_level_is_rejected():
    with pytest.raises(ValueError, match="start_level"):
        MODELS.build(dict(type="RoutedRPNHead", start_level=-1, in_channels=WIDTH))
