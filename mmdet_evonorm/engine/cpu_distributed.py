"""Distributed training and testing on machines without an accelerator.

Gap in mmengine 0.10.7: ``init_dist`` calls ``torch.cuda.set_device`` on every
launcher path (an ``AttributeError`` on CPU builds of torch), and
``Runner.wrap_model`` hands ``device_ids=[LOCAL_RANK]`` to DDP, which CPU modules
reject. Both are sidestepped without touching mmengine:

* the process group is created here with ``gloo`` before the runner is built;
  ``Runner.setup_env`` only calls ``init_dist`` when torch.distributed is not
  initialised yet;
* ``cfg.model_wrapper_cfg`` gets ``device_ids=None`` (``Runner.wrap_model`` builds
  the wrapper with ``device_ids`` only as a default argument, so an explicit
  ``None`` wins).

With a GPU (or any other accelerator mmengine knows) :func:`init_process_group`
calls mmengine's own ``init_dist`` (NCCL, or what ``env_cfg.dist_cfg`` names), as
``Runner.setup_env`` would; the tools only start it before the runner, to seed and
build the model as the runner would (:mod:`.runner_build`).

On every backend, :func:`process_group_scope` destroys the group the tools
started before the process exits.
"""

from __future__ import annotations

import contextlib
import datetime
import gc
import os
import subprocess
from collections.abc import Iterator

import torch.distributed as dist
from mmengine.config import Config
from mmengine.device import get_device
from mmengine.dist import init_dist
from mmengine.registry import MODEL_WRAPPERS
from torch.nn.parallel import DistributedDataParallel

from ..checks import BadInputError

DEFAULT_PORT = "29500"  # torch.distributed's default


def needs_cpu_process_group(launcher: str) -> bool:
    """True when a launcher is used, no accelerator exists and no group is up yet."""
    return launcher != "none" and get_device() == "cpu" and not dist.is_initialized()


def init_process_group(cfg: Config) -> None:
    """Start the process group of ``cfg.launcher`` now (nothing for ``'none'`` or if one is up)."""
    if cfg.launcher == "none" or dist.is_initialized():
        return
    if needs_cpu_process_group(cfg.launcher):
        init_cpu_distributed(cfg)
    else:
        init_dist(cfg.launcher, **cfg.get("env_cfg", {}).get("dist_cfg", {}))


def init_cpu_distributed(cfg: Config) -> None:
    """Start a ``gloo`` process group and a CPU-friendly DDP wrapper config.

    Args:
        cfg (Config): Full config; reads ``launcher``, ``env_cfg.dist_cfg.timeout``
            (seconds), ``model_wrapper_cfg`` and ``find_unused_parameters``, and
            sets ``model_wrapper_cfg``.
    """
    _export_rendezvous_env(cfg.launcher)
    timeout = cfg.get("env_cfg", {}).get("dist_cfg", {}).get("timeout")
    kwargs = {} if timeout is None else dict(timeout=datetime.timedelta(seconds=timeout))
    dist.init_process_group(backend="gloo", init_method="env://", **kwargs)
    cfg.model_wrapper_cfg = cpu_model_wrapper_cfg(cfg)


@contextlib.contextmanager
def process_group_scope() -> Iterator[None]:
    """Destroy a default process group that came up inside the block (any backend).

    A process that exits with a ``gloo`` group still up can abort at interpreter
    teardown (``terminate called without an active exception``, SIGABRT): the
    group's worker threads still hold tensors when the interpreter goes away
    (pytorch/pytorch#190489). With NCCL the same omission only warns. Destroying
    the group is not enough while the finished runner, kept by reference cycles,
    still holds it through its DDP wrapper: garbage is collected first, so the
    group really goes before interpreter teardown. A group that existed before
    the block (a caller's own) is left alone.

    After a normal exit every rank is awaited first; after an exception it is
    not, as another rank may never arrive.
    """
    started_here = not _group_is_up()
    try:
        yield
    except BaseException:
        if started_here and _group_is_up():
            dist.destroy_process_group()
        raise
    if started_here and _group_is_up():
        gc.collect()  # the runner sits in reference cycles and its DDP wrapper holds the group
        dist.barrier()
        dist.destroy_process_group()
        gc.collect()


def _group_is_up() -> bool:
    return dist.is_available() and dist.is_initialized()


def cpu_model_wrapper_cfg(cfg: Config) -> dict:
    """The user's ``model_wrapper_cfg`` (or mmengine's default DDP one) without device ids."""
    wrapper = cfg.get("model_wrapper_cfg") or dict(
        type="MMDistributedDataParallel",
        broadcast_buffers=False,
        find_unused_parameters=cfg.get("find_unused_parameters", False),
    )
    wrapper_type = MODEL_WRAPPERS.get(wrapper.get("type", "MMDistributedDataParallel"))
    if isinstance(wrapper_type, type) and issubclass(wrapper_type, DistributedDataParallel):
        wrapper.setdefault("device_ids", None)
    return wrapper


def _export_rendezvous_env(launcher: str) -> None:
    """Fill RANK, WORLD_SIZE, LOCAL_RANK and MASTER_* the way mmengine's launchers do."""
    env = os.environ
    if launcher == "slurm":
        env.setdefault("MASTER_ADDR", _first_slurm_host(env["SLURM_NODELIST"]))
        env.update(
            RANK=env["SLURM_PROCID"],
            WORLD_SIZE=env["SLURM_NTASKS"],
            LOCAL_RANK=env.get("SLURM_LOCALID", "0"),
        )
    elif launcher == "mpi":
        env.update(
            RANK=env["OMPI_COMM_WORLD_RANK"],
            WORLD_SIZE=env["OMPI_COMM_WORLD_SIZE"],
            LOCAL_RANK=env["OMPI_COMM_WORLD_LOCAL_RANK"],
        )
    env.setdefault("MASTER_PORT", DEFAULT_PORT)
    missing = [key for key in ("RANK", "WORLD_SIZE", "MASTER_ADDR") if key not in env]
    if missing:
        raise BadInputError(
            f"--launcher {launcher} needs {', '.join(missing)} in the environment; "
            "start it with tools/dist_train.sh / dist_test.sh (torchrun) or srun"
        )


def _first_slurm_host(node_list: str) -> str:
    return subprocess.getoutput(f"scontrol show hostname {node_list} | head -n1")
