"""NonFiniteGuardOptimWrapper and NonFiniteGuardHook on a toy model (no runner, no data).

The wrapper must apply finite updates exactly like ``OptimWrapper`` and leave
parameters, momentum and BN running statistics untouched by an update whose
loss or gradient norm is not finite; the hook must stop (or count a skip) with
a message naming the iteration and the loss term.
"""

from __future__ import annotations

import copy
import itertools
from types import SimpleNamespace

import pytest
import torch
from mmengine.logging import MessageHub
from mmengine.optim import OptimWrapper
from torch import nn

from mmdet_evonorm.engine import (
    NonFiniteGuardHook,
    NonFiniteGuardOptimWrapper,
    NonFiniteLossError,
)

_HUB_IDS = itertools.count()


class _InfGradient(torch.autograd.Function):
    """Identity forward, infinite gradient backward (a finite loss with a bad gradient)."""

    @staticmethod
    def forward(ctx, x):
        return x.clone()

    @staticmethod
    def backward(ctx, grad):
        return torch.full_like(grad, float("inf"))


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 1))


def _wrapper(model, wrapper_type=NonFiniteGuardOptimWrapper, **kwargs):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    return wrapper_type(optimizer, **kwargs)


def _train_step(model, wrapper, x, inf_gradient=False):
    with wrapper.optim_context(model):
        out = model(x)
    if inf_gradient:
        out = _InfGradient.apply(out)
    wrapper.update_params(out.square().mean())


def _snapshot(model, wrapper) -> dict:
    state = {f"model.{k}": v.clone() for k, v in model.state_dict().items()}
    for index, param in enumerate(model.parameters()):
        if param in wrapper.optimizer.state:
            state[f"momentum.{index}"] = wrapper.optimizer.state[param]["momentum_buffer"].clone()
    return state


def _assert_same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


@pytest.fixture
def batches():
    torch.manual_seed(1)
    return [torch.randn(6, 4) for _ in range(3)]


@pytest.mark.parametrize("clip_grad", [None, dict(max_norm=0.5)])
def test_finite_updates_match_optim_wrapper(batches, clip_grad):
    kwargs = {} if clip_grad is None else dict(clip_grad=dict(clip_grad))
    guarded_model, plain_model = _model(), _model()
    guarded = _wrapper(guarded_model, **kwargs)
    plain = _wrapper(plain_model, OptimWrapper, **copy.deepcopy(kwargs))
    for x in batches:
        _train_step(guarded_model, guarded, x)
        _train_step(plain_model, plain, x)
        assert guarded.rejected is None
    _assert_same(_snapshot(guarded_model, guarded), _snapshot(plain_model, plain))


@pytest.mark.parametrize("bad", ["nan_input", "inf_gradient"])
def test_non_finite_update_is_withheld_with_buffers_restored(batches, bad):
    model = _model()
    wrapper = _wrapper(model)
    _train_step(model, wrapper, batches[0])  # momentum exists from here on
    before = _snapshot(model, wrapper)
    x = batches[1].clone()
    if bad == "nan_input":
        x[0, 0] = float("nan")  # BN's running mean would turn NaN
    _train_step(model, wrapper, x, inf_gradient=bad == "inf_gradient")

    _assert_same(_snapshot(model, wrapper), before)
    assert all(p.grad is None or not p.grad.any() for p in model.parameters())
    assert not torch.isfinite(torch.tensor(wrapper.rejected["grad_norm"]))
    loss_is_finite = torch.isfinite(torch.tensor(wrapper.rejected["loss"])).item()
    assert loss_is_finite == (bad == "inf_gradient")

    _train_step(model, wrapper, batches[2])  # the next finite batch updates again
    assert wrapper.rejected is None
    assert not torch.equal(model[0].weight, before["model.0.weight"])


def test_accumulated_update_with_one_bad_micro_batch_is_withheld(batches):
    model = _model()
    wrapper = _wrapper(model, accumulative_counts=2)
    before = _snapshot(model, wrapper)
    bad = batches[0].clone()
    bad[2, 1] = float("inf")
    _train_step(model, wrapper, bad)
    assert wrapper.rejected is None  # no update due yet
    _train_step(model, wrapper, batches[1])
    assert wrapper.rejected is not None
    _assert_same(_snapshot(model, wrapper), before)  # BN stats of both micro-batches undone


def _runner(optim_wrapper):
    hub = MessageHub.get_instance(f"test_non_finite_guard_{next(_HUB_IDS)}")
    logger = SimpleNamespace(warnings=[])
    logger.warning = logger.warnings.append
    return SimpleNamespace(optim_wrapper=optim_wrapper, message_hub=hub, iter=6, logger=logger)


def _outputs(**terms):
    values = {key: torch.tensor(value) for key, value in terms.items()}
    return {"loss": sum(values.values()), **values}


def test_hook_stops_naming_iteration_term_and_grad_norm():
    runner = _runner(_wrapper(_model()))
    runner.message_hub.update_info("last_ckpt", "work/iter_6.pth")
    runner.optim_wrapper.rejected = dict(loss=float("nan"), grad_norm=float("nan"))
    with pytest.raises(NonFiniteLossError) as error:
        NonFiniteGuardHook().after_train_iter(
            runner, 6, outputs=_outputs(loss_cls=0.5, loss_mask=float("nan"))
        )
    message = str(error.value)
    assert message.startswith("iteration 7: non-finite loss_mask=nan, grad norm=nan;")
    assert "withheld" in message and "work/iter_6.pth" in message and "\n" not in message


def test_hook_skips_up_to_max_skips_then_stops():
    runner = _runner(_wrapper(_model()))
    hook = NonFiniteGuardHook(max_skips=2)
    runner.optim_wrapper.rejected = dict(loss=1.0, grad_norm=float("inf"))  # finite loss here
    for _ in range(2):
        hook.after_train_iter(runner, 6, outputs=_outputs(loss_cls=0.5))
    assert len(runner.logger.warnings) == 2
    assert runner.logger.warnings[1].endswith("update skipped (2 of max_skips=2)")
    assert runner.message_hub.get_info("non_finite_skips") == 2
    with pytest.raises(NonFiniteLossError, match=r"grad norm=inf; .*max_skips=2 used up"):
        hook.after_train_iter(runner, 6, outputs=_outputs(loss_cls=0.5))


def test_hook_passes_finite_iterations():
    runner = _runner(_wrapper(_model()))
    NonFiniteGuardHook().after_train_iter(runner, 6, outputs=_outputs(loss_cls=0.5))
    assert runner.logger.warnings == []


def test_hook_with_plain_optim_wrapper_checks_loss_terms_only():
    runner = _runner(_wrapper(_model(), OptimWrapper))
    hook = NonFiniteGuardHook()
    hook.before_train(runner)
    with pytest.raises(NonFiniteLossError, match="loss_bbox=inf; .*already applied in memory"):
        hook.after_train_iter(runner, 6, outputs=_outputs(loss_bbox=float("inf")))
    with pytest.raises(ValueError, match="needs optim_wrapper.type='NonFiniteGuard"):
        NonFiniteGuardHook(max_skips=1).before_train(runner)
