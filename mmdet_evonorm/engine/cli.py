"""The command lines behind ``tools/train.py`` and ``tools/test.py``.

They take mmdet 3.3.0's arguments (``mmdet/.mim/tools/{train,test}.py``) and
add three things before the runner is built:

* up-front checks (config, annotation files, model type, checkpoints), each
  failing with one ``error: ...`` line on stderr and exit status 2 before
  anything is written (:mod:`.checks`);
* :class:`~.hooks.SafeCheckpointHook`, so checkpoints load weights-only;
* a ``gloo`` process group when a launcher is used without an accelerator
  (:mod:`.cpu_distributed`).

Usage from Python: ``run_train(['cfg.py', '--work-dir', 'w'])`` returns the exit
status.
"""

from __future__ import annotations

import argparse
import copy
import os
import os.path as osp
import sys
from collections.abc import Callable, Sequence

from mmdet.engine.hooks.utils import trigger_visualization_hook
from mmdet.utils import setup_cache_size_limit_of_dynamo
from mmengine.config import Config, ConfigDict, DictAction
from mmengine.device import get_device

from .checks import (
    UsageError,
    check_annotation_files,
    check_checkpoint,
    check_config_file,
    check_model_type,
    check_resume_and_load,
)
from .cpu_distributed import init_cpu_distributed, needs_cpu_process_group

SAFE_CHECKPOINT_HOOK = "SafeCheckpointHook"


def _parser(description: str, config_help: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("config", help=config_help)
    return parser


def _add_shared_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--cfg-options",
        nargs="+",
        action=DictAction,
        help="override config entries as key=value (lists as key='[a,b]'), "
        "merged into the config file",
    )
    parser.add_argument(
        "--launcher",
        choices=["none", "pytorch", "slurm", "mpi"],
        default="none",
        help="job launcher",
    )
    # torch.distributed.launch passes --local-rank (torch >= 2.0) or --local_rank.
    parser.add_argument("--local_rank", "--local-rank", type=int, default=0)


def train_parser() -> argparse.ArgumentParser:
    parser = _parser("Train a detector", "train config file path")
    parser.add_argument("--work-dir", help="the dir to save logs and models")
    parser.add_argument("--amp", action="store_true", help="automatic mixed precision")
    parser.add_argument(
        "--auto-scale-lr", action="store_true", help="scale the LR by the total batch size"
    )
    parser.add_argument(
        "--resume",
        nargs="?",
        type=str,
        const="auto",
        help="resume from this checkpoint, or without a path from the latest "
        "checkpoint in the work dir",
    )
    _add_shared_args(parser)
    return parser


def test_parser() -> argparse.ArgumentParser:
    parser = _parser("Test (and evaluate) a detector", "test config file path")
    parser.add_argument("checkpoint", help="checkpoint file")
    parser.add_argument("--work-dir", help="the dir to save the evaluation metrics")
    parser.add_argument("--out", help="dump predictions to this .pkl file")
    parser.add_argument("--show", action="store_true", help="show prediction results")
    parser.add_argument(
        "--show-dir", help="save painted images here (inside work_dir/<timestamp>/)"
    )
    parser.add_argument("--wait-time", type=float, default=2, help="the interval of --show (s)")
    parser.add_argument("--tta", action="store_true", help="test-time augmentation (flip)")
    _add_shared_args(parser)
    return parser


def load_config(args: argparse.Namespace) -> Config:
    """Read the config, apply ``--cfg-options``/``--work-dir``/``--launcher`` and check it."""
    os.environ.setdefault("LOCAL_RANK", str(args.local_rank))
    check_config_file(args.config)
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get("work_dir") is None:
        cfg.work_dir = osp.join("./work_dirs", osp.splitext(osp.basename(args.config))[0])
    check_model_type(cfg)
    custom_hooks = list(cfg.get("custom_hooks") or [])
    if all(hook.get("type") != SAFE_CHECKPOINT_HOOK for hook in custom_hooks):
        cfg.custom_hooks = [*custom_hooks, dict(type=SAFE_CHECKPOINT_HOOK)]
    return cfg


def configure_train(cfg: Config, args: argparse.Namespace) -> None:
    """Apply ``--amp``, ``--auto-scale-lr`` and ``--resume``, then check the inputs."""
    if args.amp:
        if get_device() == "cpu":
            raise UsageError("--amp needs a CUDA (or NPU/MLU/MUSA) device; this machine has none")
        cfg.optim_wrapper.type = "AmpOptimWrapper"
        cfg.optim_wrapper.loss_scale = "dynamic"
    if args.auto_scale_lr:
        if not {"enable", "base_batch_size"} <= set(cfg.get("auto_scale_lr") or {}):
            raise UsageError(
                "--auto-scale-lr needs auto_scale_lr=dict(enable=False, base_batch_size=N) "
                "in the config"
            )
        cfg.auto_scale_lr.enable = True
    if args.resume == "auto":
        cfg.resume, cfg.load_from = True, None
    elif args.resume is not None:
        cfg.resume, cfg.load_from = True, args.resume
    check_annotation_files(cfg, ("train_dataloader", "val_dataloader"))
    check_resume_and_load(cfg)


def configure_test(cfg: Config, args: argparse.Namespace) -> None:
    """Apply the checkpoint, ``--show``/``--show-dir`` and ``--tta``, then check the inputs."""
    if args.out is not None and not args.out.endswith((".pkl", ".pickle")):
        raise UsageError(f"--out {args.out!r} must name a .pkl file")
    check_checkpoint(args.checkpoint, "the checkpoint to test")
    cfg.load_from = args.checkpoint
    if args.show or args.show_dir:
        if "visualization" not in cfg.get("default_hooks", {}):
            raise UsageError(
                "--show/--show-dir need default_hooks.visualization "
                "(e.g. dict(type='DetVisualizationHook')) in the config"
            )
        trigger_visualization_hook(cfg, args)
    if args.tta:
        _use_flip_tta(cfg)
    check_annotation_files(cfg, ("test_dataloader",))


def _use_flip_tta(cfg: Config) -> None:
    """Wrap the model in ``DetTTAModel`` with flip/no-flip unless the config has its own TTA."""
    if "tta_model" not in cfg:
        nms = dict(type="nms", iou_threshold=0.5)
        cfg.tta_model = dict(type="DetTTAModel", tta_cfg=dict(nms=nms, max_per_img=100))
    if "tta_pipeline" not in cfg:
        dataset = cfg.test_dataloader.dataset
        while "dataset" in dataset:
            dataset = dataset.dataset
        pipeline = copy.deepcopy(dataset.pipeline)
        flips = [dict(type="RandomFlip", prob=1.0), dict(type="RandomFlip", prob=0.0)]
        meta_keys = ("img_id", "img_path", "ori_shape", "img_shape", "scale_factor", "flip")
        pack = dict(type="PackDetInputs", meta_keys=meta_keys + ("flip_direction",))
        pipeline[-1] = dict(type="TestTimeAug", transforms=[flips, [pack]])
        cfg.tta_pipeline = pipeline
    cfg.model = ConfigDict(**cfg.tta_model, module=cfg.model)
    cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline


def build_runner(cfg: Config):
    """Start a CPU process group if needed, then build the (registered) runner."""
    from mmdet.registry import RUNNERS
    from mmengine.runner import Runner

    if needs_cpu_process_group(cfg.launcher):
        init_cpu_distributed(cfg)
    return RUNNERS.build(cfg) if "runner_type" in cfg else Runner.from_cfg(cfg)


def _train(args: argparse.Namespace) -> None:
    cfg = load_config(args)
    configure_train(cfg, args)
    build_runner(cfg).train()


def _test(args: argparse.Namespace) -> None:
    from mmdet.evaluation import DumpDetResults

    cfg = load_config(args)
    configure_test(cfg, args)
    runner = build_runner(cfg)
    if args.out is not None:
        runner.test_evaluator.metrics.append(DumpDetResults(out_file_path=args.out))
    runner.test()


def _run(job: Callable[[argparse.Namespace], None], args: argparse.Namespace) -> int:
    """Run ``job``; bad input ends as one ``error:`` line and status 2."""
    setup_cache_size_limit_of_dynamo()
    try:
        job(args)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyError as exc:  # a ``type`` below model.type missing from a registry
        message = str(exc.args[0]) if exc.args else ""
        if " registry" not in message:
            raise
        print(f"error: {message.splitlines()[0]}", file=sys.stderr)
        return 2
    return 0


def run_train(argv: Sequence[str] | None = None) -> int:
    """``tools/train.py``: returns the exit status."""
    return _run(_train, train_parser().parse_args(argv))


def run_test(argv: Sequence[str] | None = None) -> int:
    """``tools/test.py``: returns the exit status."""
    return _run(_test, test_parser().parse_args(argv))
