"""The model is built once per run: up front, seeded as the runner seeds it, then handed over.

``Runner.from_cfg`` builds ``cfg.model`` itself, after it has created the work
dir and the log. The tools build it before anything is written, so that a bad
config is one line (:func:`~mmdet_evonorm.checks.builds.build_model_up_front`),
and give the module to the runner (``Runner(model=nn.Module)``; the config the
runner dumps keeps the model's dict). The run stays bitwise the one
``Runner.from_cfg`` makes::

    Runner.from_cfg(cfg)                      the tools
    ------------------------------------      ------------------------------------------
                                              process group (launcher), as setup_env;
                                              seed as set_randomness (a None seed is
                                              drawn once, over all ranks, and written to
                                              cfg.randomness.seed, so the runner uses it)
                                              build the model; save the RNG states
                                              (checks: checkpoints fit, optimizer, ...)
    setup_env, set_randomness                 Runner(model=module): setup_env keeps the
    build the model                           group, set_randomness seeds again;
                                              restore the saved RNG states
    wrap, hooks, dump config; train / test    the same

The building of the model consumes random numbers (default weight init), which
``init_weights`` and the data pipeline would otherwise draw; restoring the states
saved after the build makes every later draw the one of ``Runner.from_cfg``.
"""

from __future__ import annotations

import copy
import inspect
import random
from typing import NamedTuple

import numpy as np
import torch
from mmengine.config import Config
from mmengine.dist import sync_random_seed
from mmengine.runner import Runner
from mmengine.runner.utils import set_random_seed
from torch import nn

from ..checks.builds import build_model_up_front
from .cpu_distributed import init_process_group


class PrebuiltModel(NamedTuple):
    """A model built for a run, with the CPU random states right after its build."""

    module: nn.Module
    rng_states: tuple


def build_model_for_run(cfg: Config) -> PrebuiltModel:
    """Start the launcher's process group, seed as the runner will, build ``cfg.model``."""
    init_process_group(cfg)
    randomness = dict(cfg.get("randomness") or {})
    if randomness.get("seed") is None:
        randomness["seed"] = sync_random_seed()
        cfg.randomness = randomness
    set_random_seed(**randomness)
    module = build_model_up_front(cfg)
    return PrebuiltModel(module, (random.getstate(), np.random.get_state(), torch.get_rng_state()))


def build_runner(cfg: Config, model: PrebuiltModel) -> Runner:
    """``Runner.from_cfg(cfg)`` (or the ``runner_type``'s class) with the model already built.

    The runner class is called with every config entry its ``__init__`` takes,
    which is what ``from_cfg`` passes, and ``model`` as a module. CUDA random
    states need no restoring: the model was built on the CPU.
    """
    from mmdet.registry import RUNNERS

    runner_cls = RUNNERS.get(cfg.runner_type) if "runner_type" in cfg else Runner
    cfg = copy.deepcopy(cfg)
    parameters = inspect.signature(runner_cls.__init__).parameters
    entries = {
        name: cfg[name] for name in parameters if name in cfg and name not in ("model", "cfg")
    }
    runner = runner_cls(model=model.module, cfg=cfg, **entries)
    py_state, np_state, torch_state = model.rng_states
    random.setstate(py_state)
    np.random.set_state(np_state)
    torch.set_rng_state(torch_state)
    return runner
