"""The recipe's FPN with TF "SAME" padding (mmcv ``Conv2dAdaptivePadding``).

See docs/original.md, "Backbone and FPN".

TF pads a stride-2 3x3 conv on an even input by 0 before and 1 after (the output
pixel i reads inputs 2i..2i+2); PyTorch's ``padding=1`` pads 1 on both sides (inputs
2i-1..2i+1). On odd inputs both pad 1/1, and stride-1 convs are the same either way.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from mmdet.registry import MODELS

TF_SAME = dict(type="Conv2dAdaptivePadding")


def fpn_pair():
    """(TF-SAME FPN, PyTorch-padding FPN) with the same weights, P6 conv on C5."""
    cfg = dict(
        type="FPN",
        in_channels=[8, 16, 32],
        out_channels=8,
        num_outs=4,
        add_extra_convs="on_input",
        norm_cfg=dict(type="EvoNormS0", groups=4),
        act_cfg=None,
    )
    torch.manual_seed(0)
    tf_same = MODELS.build(dict(cfg, conv_cfg=TF_SAME))
    tf_same.init_weights()
    torch_pad = MODELS.build(cfg)
    torch_pad.load_state_dict(tf_same.state_dict())
    return tf_same.eval(), torch_pad.eval()


def inputs(c5_size):
    h, w = c5_size
    return [torch.randn(2, c, h * s, w * s) for c, s in ((8, 4), (16, 2), (32, 1))]


@pytest.mark.parametrize("c5_size", [(6, 8), (5, 7), (6, 7)], ids=["even", "odd", "mixed"])
def test_p6_is_tf_same_and_p3_p5_unchanged(c5_size):
    tf_same, torch_pad = fpn_pair()
    x = inputs(c5_size)
    with torch.no_grad():
        ours, theirs = tf_same(x), torch_pad(x)
        p6 = tf_same.fpn_convs[3]
        c5 = x[2]
        pad_h, pad_w = (1 - s % 2 for s in c5.shape[-2:])  # TF: (0, 1) even, (1, 1) odd
        padded = F.pad(c5, (1 - pad_w, 1, 1 - pad_h, 1))
        expected = p6.norm(F.conv2d(padded, p6.conv.weight, p6.conv.bias, stride=2))
    for level in range(3):
        torch.testing.assert_close(ours[level], theirs[level])
    torch.testing.assert_close(ours[3], expected)
    assert ours[3].shape == theirs[3].shape  # ceil(H / 2) either way
    differs = not torch.allclose(ours[3], theirs[3])
    assert differs == (c5_size != (5, 7))  # PyTorch padding is wrong on even sides only
