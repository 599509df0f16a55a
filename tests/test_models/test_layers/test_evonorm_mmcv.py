"""EvoNorm-S0 inside mmcv / mmengine: building, config errors, weight decay, init."""

from collections import OrderedDict

import pytest
import torch
from mmcv.cnn import ConvModule, build_norm_layer
from mmengine.model import BaseModule, Sequential
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope

from mmdet_evonorm.models.layers import (
    EVONORM_PARAMWISE_CUSTOM_KEYS,
    EvoNormS0,
    act_cfg_after_norm,
)


@pytest.fixture(params=[None, "mmdet"])
def scope(request, monkeypatch):
    """No default scope at all, or mmdet's (as inside an mmdet config)."""
    monkeypatch.setattr(DefaultScope, "_instance_dict", OrderedDict())
    if request.param:
        import mmdet.registry  # noqa: F401

        DefaultScope.get_instance("test-evonorm-scope", scope_name=request.param)
    assert DefaultScope.get_current_instance() is None or request.param
    return request.param


def test_build_norm_layer(scope):
    name, layer = build_norm_layer(dict(type="EvoNormS0"), 64, postfix=2)
    assert name == "evonorm2" and isinstance(layer, EvoNormS0)
    assert (layer.groups, layer.eps, layer.apply_act) == (32, 1e-5, True)

    cfg = dict(type="EvoNormS0", group_size=16, eps=1e-3, requires_grad=False)
    _, layer = build_norm_layer(cfg, 64)
    assert (layer.groups, layer.eps) == (4, 1e-3)
    assert not any(p.requires_grad for p in layer.parameters())

    _, layer = build_norm_layer(dict(type=EvoNormS0, groups=8), 48)  # class as type
    assert layer.groups == 8


def test_conv_module(scope):
    torch.manual_seed(0)
    conv = ConvModule(8, 64, 3, padding=1, norm_cfg=dict(type="EvoNormS0"), act_cfg=None)
    assert conv.norm_name == "evonorm" and isinstance(conv.norm, EvoNormS0)
    assert conv.conv.bias is None and not conv.with_activation  # bias='auto'
    x = torch.randn(2, 8, 10, 12)
    out = conv(x)
    assert out.shape == (2, 64, 10, 12)
    torch.testing.assert_close(out, conv.evonorm(conv.conv(x)), rtol=0, atol=0)


@pytest.mark.parametrize(
    "kwargs,field",
    [
        (dict(groups=0), "groups"),
        (dict(groups=-4), "groups"),
        (dict(groups=2.5), "groups"),
        (dict(groups="32"), "groups"),
        (dict(groups=True), "groups"),
        (dict(group_size=0), "group_size"),
        (dict(group_size=4.0), "group_size"),
        (dict(group_size=5), "group_size"),  # does not divide 64
    ],
)
def test_bad_config_names_the_field(kwargs, field):
    with pytest.raises(ValueError, match=rf"EvoNormS0: {field}[ =]"):
        build_norm_layer(dict(type="EvoNormS0", **kwargs), 64)


@pytest.mark.parametrize(
    "channels,groups,expected", [(48, 32, 24), (40, 32, 20), (7, 32, 7), (64, 100, 64)]
)
def test_group_fallback_and_clamp(channels, groups, expected):
    """Lowered until it divides C (TF reference code), clamped to C."""
    assert EvoNormS0(channels, groups=groups).groups == expected


def test_act_cfg_after_norm():
    relu = dict(type="ReLU")
    assert act_cfg_after_norm(dict(type="EvoNormS0"), relu) is None
    assert act_cfg_after_norm(dict(type=EvoNormS0, groups=8), relu) is None
    assert act_cfg_after_norm(dict(type="EvoNormS0", apply_act=False), relu) is relu
    assert act_cfg_after_norm(dict(type="GN", num_groups=32), relu) is relu
    assert act_cfg_after_norm(None, relu) is relu


def conv_stack():
    """Two Conv+EvoNorm blocks and one Conv+GN+ReLU block, as a neck would have
    (mmengine's Sequential, so init_weights reaches the ConvModules)."""
    evonorm = dict(type="EvoNormS0")
    return Sequential(
        ConvModule(4, 32, 3, padding=1, norm_cfg=evonorm, act_cfg=None),
        ConvModule(32, 32, 3, padding=1, norm_cfg=evonorm, act_cfg=None),
        ConvModule(32, 32, 1, norm_cfg=dict(type="GN", num_groups=8)),
    )


def test_paramwise_custom_keys_remove_weight_decay():
    model = conv_stack()
    wrapper = build_optim_wrapper(
        model,
        dict(
            optimizer=dict(type="SGD", lr=0.02, momentum=0.9, weight_decay=1e-4),
            paramwise_cfg=dict(custom_keys=EVONORM_PARAMWISE_CUSTOM_KEYS),
        ),
    )
    decay = {
        id(p): group["weight_decay"]
        for group in wrapper.optimizer.param_groups
        for p in group["params"]
    }
    names = dict(model.named_parameters())
    assert len(decay) == len(names)
    evonorm = {n for n in names if ".evonorm." in n}
    assert evonorm == {f"{i}.evonorm.{p}" for i in (0, 1) for p in ("weight", "bias", "v")}
    for name, param in names.items():
        assert decay[id(param)] == (0.0 if name in evonorm else 1e-4), name


class _Neck(BaseModule):
    def __init__(self, init_cfg):
        super().__init__(init_cfg=init_cfg)
        self.convs = conv_stack()


@pytest.mark.parametrize(
    "init_cfg",
    [
        dict(type="Xavier", layer="Conv2d", distribution="uniform"),
        dict(type="Kaiming", layer="Conv2d"),
        dict(type="Normal", layer=["Conv2d", "Linear"], std=0.01),
        None,  # ConvModule.init_weights alone
    ],
)
def test_conv_init_schemes_leave_evonorm_parameters(init_cfg):
    torch.manual_seed(0)
    neck = _Neck(init_cfg)
    before = neck.convs[0].conv.weight.clone()
    neck.init_weights()
    assert not torch.equal(neck.convs[0].conv.weight, before)  # the conv was initialised
    for block in neck.convs[:2]:
        norm = block.evonorm
        assert torch.equal(norm.weight, torch.ones(32))
        assert torch.equal(norm.bias, torch.zeros(32))
        assert torch.equal(norm.v, torch.ones(32))
