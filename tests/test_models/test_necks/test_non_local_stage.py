"""NonLocalStage / GatedNonLocalBlock: identity at init, maths, routing of levels."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from mmdet.registry import MODELS

from mmdet_evonorm.models.necks import GatedNonLocalBlock, NonLocalStage

CHANNELS = [64, 128, 256, 256]


def reference_block(block: GatedNonLocalBlock, x: torch.Tensor) -> torch.Tensor:
    """June-2020 non_local_blockv1 written out with explicit softmax and GN/ReLU."""
    n, c, h, w = x.shape

    def conv(module, t):
        return F.conv2d(t, module.weight, module.bias)

    q, k, v = (conv(m, x).flatten(2) for m in (block.query, block.key, block.value))
    logits = torch.einsum("ncq,nck->nqk", q, k) / (c // 2) ** 0.5  # scale: V width
    attended = torch.einsum("nqk,nck->ncq", logits.softmax(-1), v)
    z = x + conv(block.out, attended.reshape(n, -1, h, w))
    z = F.relu(F.group_norm(z, 32, block.norm.weight, block.norm.bias, eps=1e-5))
    return x + block.gamma * z


@pytest.mark.parametrize("num_levels", [3, 4])
def test_identity_at_init_and_shapes(pyramid, num_levels):
    stage = MODELS.build(dict(type="NonLocalStage", in_channels=CHANNELS[:num_levels])).eval()
    inputs = pyramid(CHANNELS[:num_levels])
    outputs = stage(inputs)
    assert len(outputs) == num_levels
    for x, y in zip(inputs, outputs, strict=True):
        assert y.shape == x.shape
        torch.testing.assert_close(y, x, rtol=0, atol=0)
    assert sorted(stage.blocks) == [str(num_levels - 2), str(num_levels - 1)]
    for i in range(num_levels - 2):  # finer levels are passed through untouched
        assert outputs[i] is inputs[i]


def test_block_widths_and_gate():
    block = GatedNonLocalBlock(256)
    assert block.query.out_channels == block.key.out_channels == 32
    assert block.value.out_channels == 128
    assert block.out.in_channels == 128 and block.out.out_channels == 256
    assert block.gamma.shape == (1,) and block.gamma.item() == 0
    assert isinstance(block.norm, torch.nn.GroupNorm) and block.norm.num_groups == 32


def test_block_matches_reference_maths(pyramid):
    torch.manual_seed(0)
    block = GatedNonLocalBlock(64).double()
    with torch.no_grad():
        block.gamma.fill_(0.7)
        block.norm.weight.uniform_(0.5, 1.5)
        block.norm.bias.uniform_(-0.5, 0.5)
    (x,) = pyramid([64], sizes=[(7, 10)], dtype=torch.float64)
    torch.testing.assert_close(block(x), reference_block(block, x), rtol=1e-10, atol=1e-10)


def test_gamma_gets_gradient_at_init(pyramid):
    stage = NonLocalStage(CHANNELS[:3])
    inputs = pyramid(CHANNELS[:3], requires_grad=True)
    sum(y.square().sum() for y in stage(inputs)).backward()
    for block in stage.blocks.values():
        assert block.gamma.grad.abs().item() > 0
        # z is multiplied by gamma = 0: nothing inside the block learns yet
        assert block.query.weight.grad.abs().sum() == 0


def test_gradients_reach_every_parameter(pyramid, assert_all_params_get_grad, norm_cfg):
    torch.manual_seed(0)
    stage = NonLocalStage(CHANNELS[:3], norm_cfg=norm_cfg).train()
    for block in stage.blocks.values():
        block.gamma.data.fill_(0.5)
    inputs = pyramid(CHANNELS[:3], requires_grad=True)
    outputs = stage(inputs)
    weights = [torch.randn_like(y) for y in outputs]
    sum((y * wt).sum() for y, wt in zip(outputs, weights, strict=True)).backward()
    assert_all_params_get_grad(stage)
    assert all(x.grad is not None and x.grad.abs().sum() > 0 for x in inputs)


def test_selected_levels_and_act_none(pyramid):
    stage = NonLocalStage(CHANNELS[:3], in_indices=(0, -3), act_cfg=None)
    assert list(stage.blocks) == ["0"]
    assert stage.blocks["0"].act is None
    inputs = pyramid(CHANNELS[:3])
    outputs = stage(inputs)
    assert outputs[1] is inputs[1] and outputs[2] is inputs[2]


def test_bad_arguments_are_rejected(pyramid):
    with pytest.raises(ValueError, match="out of range"):
        NonLocalStage([64, 128], in_indices=(2,))
    with pytest.raises(ValueError, match="divisible"):
        GatedNonLocalBlock(60)
    with pytest.raises(ValueError, match="expects 3 maps"):
        NonLocalStage(CHANNELS[:3])(pyramid(CHANNELS[:2]))
