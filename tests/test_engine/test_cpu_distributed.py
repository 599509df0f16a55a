"""The CPU (gloo) distributed runtime: wrapper config, rendezvous environment, process group."""

from __future__ import annotations

import gc
import os
import socket
import weakref

import pytest
import torch
import torch.distributed as dist
from mmengine.config import Config
from mmengine.model import MMDistributedDataParallel
from mmengine.registry import MODEL_WRAPPERS

from mmdet_evonorm.checks import BadInputError
from mmdet_evonorm.engine.cli import _run
from mmdet_evonorm.engine.cpu_distributed import (
    _export_rendezvous_env,
    cpu_model_wrapper_cfg,
    init_cpu_distributed,
    needs_cpu_process_group,
    process_group_scope,
)

CPU_ONLY = pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only path")
RENDEZVOUS_KEYS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


@pytest.fixture
def clean_env(monkeypatch):
    """No rendezvous variables, restored after the test."""
    for key in RENDEZVOUS_KEYS:
        monkeypatch.delenv(key, raising=False)
    return monkeypatch


def test_default_wrapper_is_ddp_without_device_ids():
    wrapper = cpu_model_wrapper_cfg(Config(dict(find_unused_parameters=True)))
    assert wrapper == dict(
        type="MMDistributedDataParallel",
        broadcast_buffers=False,
        find_unused_parameters=True,
        device_ids=None,
    )


def test_user_wrapper_is_kept_and_only_gains_device_ids_none():
    user = dict(type="MMDistributedDataParallel", broadcast_buffers=True, static_graph=True)
    assert cpu_model_wrapper_cfg(Config(dict(model_wrapper_cfg=user))) == dict(
        user, device_ids=None
    )
    explicit = dict(type="MMDistributedDataParallel", device_ids=[0])
    assert cpu_model_wrapper_cfg(Config(dict(model_wrapper_cfg=explicit)))["device_ids"] == [0]


def test_non_ddp_wrapper_gets_no_device_ids():
    @MODEL_WRAPPERS.register_module(force=True)
    class _PlainTestWrapper(torch.nn.Module):
        def __init__(self, module):
            super().__init__()
            self.module = module

    wrapper = cpu_model_wrapper_cfg(Config(dict(model_wrapper_cfg=dict(type="_PlainTestWrapper"))))
    assert wrapper == dict(type="_PlainTestWrapper")


@CPU_ONLY
def test_needs_cpu_process_group_only_with_a_launcher():
    assert not needs_cpu_process_group("none")
    assert needs_cpu_process_group("pytorch") == (not dist.is_initialized())


def test_slurm_environment_is_translated(clean_env):
    clean_env.setenv("MASTER_ADDR", "node-a")
    for key, value in dict(SLURM_PROCID="3", SLURM_NTASKS="4", SLURM_LOCALID="1").items():
        clean_env.setenv(key, value)
    clean_env.setenv("SLURM_NODELIST", "node-[a-b]")
    _export_rendezvous_env("slurm")
    got = {key: os.environ[key] for key in RENDEZVOUS_KEYS}
    assert got == dict(
        RANK="3", WORLD_SIZE="4", LOCAL_RANK="1", MASTER_ADDR="node-a", MASTER_PORT="29500"
    )


def test_mpi_environment_is_translated(clean_env):
    clean_env.setenv("MASTER_ADDR", "10.0.0.1")
    clean_env.setenv("MASTER_PORT", "1234")
    for key, value in dict(RANK="2", SIZE="8", LOCAL_RANK="0").items():
        clean_env.setenv(f"OMPI_COMM_WORLD_{key}", value)
    _export_rendezvous_env("mpi")
    assert (os.environ["RANK"], os.environ["WORLD_SIZE"], os.environ["MASTER_PORT"]) == (
        "2",
        "8",
        "1234",
    )


def test_missing_rendezvous_is_a_usage_error(clean_env):
    with pytest.raises(BadInputError, match="RANK, WORLD_SIZE, MASTER_ADDR"):
        _export_rendezvous_env("pytorch")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _single_rank_env(env) -> None:
    for key, value in dict(
        RANK="0", WORLD_SIZE="1", LOCAL_RANK="0", MASTER_ADDR="127.0.0.1"
    ).items():
        env.setenv(key, value)
    env.setenv("MASTER_PORT", str(_free_port()))


@CPU_ONLY
def test_gloo_group_and_wrapper_that_runner_builds(clean_env):
    """World size 1: the group is gloo and Runner.wrap_model's device_ids default loses."""
    _single_rank_env(clean_env)
    cfg = Config(dict(launcher="pytorch", env_cfg=dict(dist_cfg=dict(backend="nccl", timeout=60))))
    assert not dist.is_initialized()
    init_cpu_distributed(cfg)
    try:
        assert dist.get_backend() == "gloo" and dist.get_world_size() == 1
        # exactly what Runner.wrap_model does with a model_wrapper_cfg
        torch.manual_seed(0)
        model = MODEL_WRAPPERS.build(
            cfg.model_wrapper_cfg, default_args=dict(module=torch.nn.Linear(3, 2), device_ids=[0])
        )
        assert isinstance(model, MMDistributedDataParallel) and model.device_ids is None
        model(torch.ones(4, 3)).sum().backward()
        assert model.module.weight.grad.shape == (2, 3)
    finally:
        dist.destroy_process_group()


def _job_starting_a_group(error: Exception | None):
    def job(args):
        init_cpu_distributed(Config(dict(launcher="pytorch")))
        assert dist.is_initialized()
        if error is not None:
            raise error

    return job


@CPU_ONLY
@pytest.mark.parametrize(
    "error, status", [(None, 0), (BadInputError("bad input"), 2)], ids=["done", "bad-input"]
)
def test_tools_destroy_the_process_group_before_exit(clean_env, error, status):
    """A gloo group left alive can abort the interpreter at exit (SIGABRT) on one rank."""
    _single_rank_env(clean_env)
    assert _run(_job_starting_a_group(error), None) == status
    assert not dist.is_initialized()


@CPU_ONLY
def test_unexpected_errors_still_destroy_the_process_group(clean_env):
    _single_rank_env(clean_env)
    with pytest.raises(RuntimeError, match="boom"):
        _run(_job_starting_a_group(RuntimeError("boom")), None)
    assert not dist.is_initialized()


@CPU_ONLY
def test_a_callers_own_process_group_is_left_alone(clean_env):
    _single_rank_env(clean_env)
    dist.init_process_group(backend="gloo", init_method="env://")
    try:
        with process_group_scope():
            dist.barrier()
        assert dist.is_initialized()
    finally:
        dist.destroy_process_group()


@CPU_ONLY
def test_a_ddp_model_left_in_a_reference_cycle_is_freed_before_the_group(clean_env):
    """A finished runner (reference cycles) must not keep the group alive until teardown."""
    _single_rank_env(clean_env)
    gc.disable()  # only the scope's own collection may free the cycle
    try:
        with process_group_scope():
            init_cpu_distributed(Config(dict(launcher="pytorch")))
            model = MODEL_WRAPPERS.build(
                cpu_model_wrapper_cfg(Config()), default_args=dict(module=torch.nn.Linear(2, 2))
            )
            cycle = [model]
            cycle.append(cycle)
            alive = weakref.ref(model)
            del model, cycle
            assert alive() is not None
    finally:
        gc.enable()
    assert alive() is None and not dist.is_initialized()
