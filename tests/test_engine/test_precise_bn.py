"""Precise BN: exact population statistics of the RoI heads' BN inputs, nothing else touched."""

from __future__ import annotations

import socket
from types import SimpleNamespace

import pytest
import torch
import torch.distributed as dist
from mmengine.model import BaseModel
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from mmdet_evonorm.engine.hooks import PreciseBNHook
from mmdet_evonorm.engine.precise_bn import NoBatchNormError, bn_layers, update_bn_stats
from mmdet_evonorm.testing import build_detector, demo_batch, get_tiny_mask_rcnn_cfg


def bn_head_cfg():
    """The tiny Mask R-CNN with BN in both RoI heads (a conv box head, the mask convs)."""
    cfg = get_tiny_mask_rcnn_cfg()
    bn = dict(type="BN", requires_grad=True)
    cfg.roi_head.bbox_head.update(
        type="ConvFCBBoxHead", num_shared_convs=2, num_shared_fcs=1, conv_out_channels=32,
        norm_cfg=bn,
    )  # fmt: skip
    cfg.roi_head.mask_head.norm_cfg = bn
    return cfg


@pytest.fixture
def model():
    torch.manual_seed(0)
    detector = build_detector(bn_head_cfg())
    detector.train()
    with torch.no_grad():  # running statistics far from the data's
        for bn in bn_layers(detector).values():
            bn.running_mean.fill_(5.0)
            bn.running_var.fill_(0.01)
    return detector


def batches(count: int) -> list[dict]:
    """Equal-size batches: 2 images of 128 px, 3 objects each."""
    torch.manual_seed(1)
    return [demo_batch(2, [(3, 128, 128)] * 2, num_items=[3, 3]) for _ in range(count)]


def record_bn_inputs(model, data: list[dict]) -> dict[str, list[torch.Tensor]]:
    """Inputs of every chosen BN layer over ``data`` in loss mode (an independent pass)."""
    seen: dict[str, list[torch.Tensor]] = {name: [] for name in bn_layers(model)}
    handles = [
        bn.register_forward_pre_hook(lambda m, args, name=name: seen[name].append(args[0]))
        for name, bn in bn_layers(model).items()
    ]
    with torch.no_grad():
        for batch in data:
            model(**model.data_preprocessor(batch, True), mode="loss")
    for handle in handles:
        handle.remove()
    return seen


def test_result_equals_statistics_of_the_concatenated_batches(model):
    data = batches(3)
    torch.manual_seed(7)
    layers = update_bn_stats(model, data, 3, log=lambda line: None)
    assert set(layers) >= {"roi_head.bbox_head.shared_convs.0.bn", "roi_head.mask_head.convs.0.bn"}
    saved = {name: (bn.running_mean.clone(), bn.running_var.clone()) for name, bn in layers.items()}
    torch.manual_seed(7)  # the same sampled RoIs as the estimate drew
    inputs = record_bn_inputs(model, data)
    for name, (mean, var) in saved.items():
        assert len(inputs[name]) == 3 and len({x.shape[0] for x in inputs[name]}) == 1
        x = torch.cat(inputs[name]).double().transpose(0, 1).flatten(1)
        torch.testing.assert_close(mean, x.mean(1).float(), rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(var, x.var(1, unbiased=True).float(), rtol=1e-5, atol=1e-6)


def test_nothing_else_changes_bitwise(model):
    params = {k: v.detach().clone() for k, v in model.named_parameters()}
    buffers = {k: v.clone() for k, v in model.named_buffers()}
    data = batches(2)
    rng = torch.get_rng_state()
    layers = update_bn_stats(model, data, 2, log=lambda line: None)
    updated = {f"{n}.{b}" for n in layers for b in ("running_mean", "running_var")}
    assert all(torch.equal(v, params[k]) and v.grad is None for k, v in model.named_parameters())
    for name, value in model.named_buffers():
        same = torch.equal(value, buffers[name])
        assert same != (name in updated), name  # exactly the chosen statistics moved
    assert torch.equal(torch.get_rng_state(), rng)
    # backbone BN ran in training mode too, yet its statistics and counters are restored
    assert any("backbone" in k and k.endswith("num_batches_tracked") for k in buffers)


def test_more_batches_than_the_loader_has_uses_them_all(model):
    lines = []
    update_bn_stats(model, batches(2), 50, log=lines.append)
    assert lines[0] == "precise BN: 50 batches asked, the loader has 2: using all"
    assert "over 2 batch(es)" in lines[-1]


def test_frozen_or_missing_bn_is_refused(model):
    for bn in bn_layers(model).values():
        bn.eval()
    with pytest.raises(NoBatchNormError, match="model.roi_head"):
        update_bn_stats(model, batches(1), 1)
    plain = build_detector(get_tiny_mask_rcnn_cfg()).train()  # FC box head, no-norm mask head
    assert bn_layers(plain) == {}
    with pytest.raises(NoBatchNormError, match="no module 'rpn'"):
        bn_layers(plain, "rpn")


def test_hook_runs_at_the_last_iteration_and_every_interval(model):
    calls = []
    runner = SimpleNamespace(
        model=model, train_dataloader=batches(1), iter=0, max_iters=6,
        logger=SimpleNamespace(info=calls.append),
    )  # fmt: skip
    hook = PreciseBNHook(num_batches=1, interval=4)
    for runner.iter in range(6):
        hook.after_train_iter(runner, runner.iter)
    runs = [line for line in calls if line.startswith("precise BN: ") and "layer" in line]
    assert len(runs) == 2  # after iteration 4 (interval) and 6 (last)
    assert all(
        isinstance(bn, _BatchNorm) and bn.running_mean.abs().max() < 5
        for bn in bn_layers(model).values()
    )
    with pytest.raises(ValueError, match="num_batches"):
        PreciseBNHook(num_batches=0)


class _ToyModel(BaseModel):
    """A BaseModel whose ``roi_head`` is one BN layer: loss mode normalises ``inputs``."""

    def __init__(self) -> None:
        super().__init__()
        self.roi_head = nn.Sequential(nn.BatchNorm1d(3))

    def forward(self, inputs, data_samples=None, mode="loss"):
        return {"loss": self.roi_head(inputs).sum()}


def _rank_data(rank: int) -> list[dict]:
    generator = torch.Generator().manual_seed(rank)
    sizes = (4, 9) if rank == 0 else (6, 2)  # unequal batches and ranks
    return [dict(inputs=torch.randn(n, 3, generator=generator) * (rank + 1)) for n in sizes]


def _distributed_worker(rank: int, port: int, out: str) -> None:
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    model = _ToyModel().train()
    update_bn_stats(model, _rank_data(rank), 2, log=lambda line: None)
    if rank == 0:
        bn = model.roi_head[0]
        torch.save((bn.running_mean, bn.running_var), out)
    dist.destroy_process_group()


def test_statistics_are_those_of_all_ranks_batches(tmp_path):
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    out = str(tmp_path / "stats.pt")
    torch.multiprocessing.spawn(_distributed_worker, args=(port, out), nprocs=2)
    mean, var = torch.load(out)
    x = torch.cat([d["inputs"] for rank in (0, 1) for d in _rank_data(rank)]).double()
    torch.testing.assert_close(mean, x.mean(0).float())
    torch.testing.assert_close(var, x.var(0, unbiased=True).float())
