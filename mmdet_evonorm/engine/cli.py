"""The command lines behind ``tools/train.py`` and ``tools/test.py``.

They take mmdet 3.3.0's arguments (``mmdet/.mim/tools/{train,test}.py``) and
add, before the runner is built:

* up-front checks (config, registered types, work dir, annotation files and
  images, checkpoints, URL ones included, the model and whether the checkpoints
  fit it, the optimizer and schedulers), each failing with one ``error: ...``
  line on stderr and exit status 2 before anything is written
  (:mod:`mmdet_evonorm.checks`; ``--check-only`` stops after them);
* the model built once, up front, and handed to the runner (:mod:`.runner_build`);
* :class:`~.hooks.SafeCheckpointHook`, so checkpoints load weights-only;
* for training, the reliability defaults a config lacks (docs/reliability.md):
  :class:`~.hooks.AtomicCheckpointHook` for ``CheckpointHook``,
  :class:`~.hooks.NonFiniteGuardHook`, :class:`~.hooks.IterationSeedHook` and
  :class:`~.optim_wrappers.NonFiniteGuardOptimWrapper` for ``OptimWrapper``;
* a ``gloo`` process group when a launcher is used without an accelerator
  (:mod:`.cpu_distributed`).

Exit status: 0 done, 2 bad input (also an image that cannot be decoded during
the run), 3 training stopped at a non-finite loss or gradient norm.

Usage from Python: ``run_train(['cfg.py', '--work-dir', 'w'])`` returns the exit
status.
"""

from __future__ import annotations

import argparse
import copy
import os
import os.path as osp
import re
import sys
from collections.abc import Callable, Sequence

from mmdet.engine.hooks.utils import trigger_visualization_hook
from mmdet.utils import setup_cache_size_limit_of_dynamo
from mmengine.config import Config, ConfigDict, DictAction
from mmengine.device import get_device
from mmengine.runner import find_latest_checkpoint

from ..checks import EXIT_BAD_INPUT, ArgumentParser, BadInputError, print_error
from ..checks.annotations import check_annotation_files
from ..checks.builds import check_optimizer_and_schedulers
from ..checks.checkpoints import (
    check_checkpoint,
    check_local_checkpoint_fits,
    check_pretrained_checkpoints,
    check_resume_and_load,
)
from ..checks.config import check_num_classes, check_types, read_config
from ..checks.config_walk import leaf_datasets
from ..checks.files import check_creatable_dir
from .cpu_distributed import process_group_scope
from .hooks import NonFiniteLossError
from .runner_build import build_model_for_run, build_runner

SAFE_CHECKPOINT_HOOK = "SafeCheckpointHook"
#: ``default_hooks`` entries that training adds when the config lacks the key
#: (set one to None to leave it out).
RELIABILITY_HOOKS = dict(
    non_finite_guard=dict(type="NonFiniteGuardHook", max_skips=0),
    iteration_seed=dict(type="IterationSeedHook"),
)
EXIT_NON_FINITE = 3
#: mmcv's ``LoadImageFromFile`` message for an image that does not decode.
_UNDECODABLE_IMAGE = re.compile(r"failed to load image: (.+)")


def _parser(description: str, config_help: str) -> argparse.ArgumentParser:
    parser = ArgumentParser(description=description)
    parser.add_argument("config", help=config_help)
    return parser


def _add_check_only(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--check-only",
        action="store_true",
        help="run the input checks (the model and optimizer built on the CPU), then exit: "
        "0 when the run would start; nothing is written",
    )


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
    _add_check_only(parser)
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
    _add_check_only(parser)
    _add_shared_args(parser)
    return parser


def precise_bn_parser() -> argparse.ArgumentParser:
    parser = _parser(
        "Re-estimate the BN statistics of a trained checkpoint (Precise BN) into a new file",
        "the checkpoint's config file",
    )
    parser.add_argument("checkpoint", help="trained checkpoint (read only)")
    parser.add_argument("--out", required=True, help="new checkpoint file (must not exist)")
    parser.add_argument("--batches", type=int, default=200, help="K training batches (default 200)")
    parser.add_argument(
        "--scope", default="roi_head", help="module whose BN layers to update (default roi_head)"
    )
    _add_shared_args(parser)
    parser.set_defaults(work_dir=None)
    return parser


def load_config(args: argparse.Namespace) -> Config:
    """Read the config, apply ``--cfg-options``/``--work-dir``/``--launcher`` and check it."""
    os.environ.setdefault("LOCAL_RANK", str(args.local_rank))
    cfg = read_config(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get("work_dir") is None:
        cfg.work_dir = osp.join("./work_dirs", osp.splitext(osp.basename(args.config))[0])
    check_types(cfg)
    custom_hooks = list(cfg.get("custom_hooks") or [])
    if all(hook.get("type") != SAFE_CHECKPOINT_HOOK for hook in custom_hooks):
        cfg.custom_hooks = [*custom_hooks, dict(type=SAFE_CHECKPOINT_HOOK)]
    return cfg


def use_reliability_defaults(cfg: Config) -> None:
    """Atomic checkpoints, the NaN guard and per-batch seeds, unless the config says otherwise.

    ``CheckpointHook`` becomes :class:`~.hooks.AtomicCheckpointHook` (same
    arguments; mmengine's default ``interval=1`` when the key is absent), the
    :data:`RELIABILITY_HOOKS` keys absent from ``default_hooks`` are added (a
    key set to None is removed), and a plain ``OptimWrapper`` becomes
    :class:`NonFiniteGuardOptimWrapper`.
    """
    hooks = cfg.setdefault("default_hooks", ConfigDict())
    checkpoint = hooks.setdefault("checkpoint", ConfigDict(type="CheckpointHook", interval=1))
    if checkpoint is not None and checkpoint.get("type") == "CheckpointHook":
        checkpoint.type = "AtomicCheckpointHook"
    for key, hook in RELIABILITY_HOOKS.items():
        if key not in hooks:
            hooks[key] = ConfigDict(hook)
        elif hooks[key] is None:  # disabled; mmengine accepts None only for its own keys
            del hooks[key]
    optim_wrapper = cfg.get("optim_wrapper")
    if optim_wrapper is not None and optim_wrapper.get("type", "OptimWrapper") == "OptimWrapper":
        optim_wrapper.type = "NonFiniteGuardOptimWrapper"


def configure_train(cfg: Config, args: argparse.Namespace) -> None:
    """Apply the reliability defaults, ``--amp``, ``--auto-scale-lr`` and ``--resume``,
    then check the inputs."""
    use_reliability_defaults(cfg)
    if args.amp:
        if get_device() == "cpu":
            raise BadInputError("--amp needs a CUDA (or NPU/MLU/MUSA) device; this one has none")
        cfg.optim_wrapper.type = "AmpOptimWrapper"
        cfg.optim_wrapper.loss_scale = "dynamic"
    if args.auto_scale_lr:
        if not {"enable", "base_batch_size"} <= set(cfg.get("auto_scale_lr") or {}):
            raise BadInputError(
                "--auto-scale-lr needs auto_scale_lr=dict(enable=False, base_batch_size=N) "
                "in the config"
            )
        cfg.auto_scale_lr.enable = True
    _check_skips_can_be_skipped(cfg)
    if args.resume == "auto":
        cfg.resume, cfg.load_from = True, None
    elif args.resume is not None:
        cfg.resume, cfg.load_from = True, args.resume
    check_creatable_dir(cfg.work_dir, "work_dir")
    _warn(check_annotation_files(cfg, ("train_dataloader", "val_dataloader")))
    check_num_classes(cfg, "train_dataloader")
    check_resume_and_load(cfg)
    check_pretrained_checkpoints(cfg)


def _check_skips_can_be_skipped(cfg: Config) -> None:
    """``max_skips > 0`` needs the optimizer wrapper that can withhold an update."""
    guard = cfg.default_hooks.get("non_finite_guard") or {}
    wrapper_type = (cfg.get("optim_wrapper") or {}).get("type")
    if guard.get("max_skips") and wrapper_type != "NonFiniteGuardOptimWrapper":
        raise BadInputError(
            f"default_hooks.non_finite_guard.max_skips={guard.max_skips} needs "
            f"optim_wrapper.type='NonFiniteGuardOptimWrapper' (got {wrapper_type!r}; with "
            "--amp the GradScaler skips overflowing steps itself): set max_skips=0"
        )


def configure_test(cfg: Config, args: argparse.Namespace) -> None:
    """Apply the checkpoint, ``--show``/``--show-dir`` and ``--tta``, then check the inputs."""
    if args.out is not None and not args.out.endswith((".pkl", ".pickle")):
        raise BadInputError(f"--out {args.out!r} must name a .pkl file")
    check_checkpoint(args.checkpoint, "the checkpoint to test")
    cfg.load_from = args.checkpoint
    if args.show or args.show_dir:
        if "visualization" not in cfg.get("default_hooks", {}):
            raise BadInputError(
                "--show/--show-dir need default_hooks.visualization "
                "(e.g. dict(type='DetVisualizationHook')) in the config"
            )
        trigger_visualization_hook(cfg, args)
    if args.tta:
        _use_flip_tta(cfg)
    check_creatable_dir(cfg.work_dir, "work_dir")
    _warn(check_annotation_files(cfg, ("test_dataloader",)))
    check_num_classes(cfg, "test_dataloader")


def _warn(lines: list[str]) -> None:
    for line in lines:
        print(f"warning: {line}", file=sys.stderr)


def _training_checkpoint(cfg: Config) -> tuple[str | None, str]:
    """The checkpoint a training run starts from, and how it is used."""
    if cfg.get("resume"):
        return cfg.get("load_from") or find_latest_checkpoint(cfg.work_dir), "resume"
    return cfg.get("load_from"), "load_from"


def _use_flip_tta(cfg: Config) -> None:
    """Wrap the model in ``DetTTAModel`` with flip/no-flip unless the config has its own TTA."""
    if "tta_model" not in cfg:
        nms = dict(type="nms", iou_threshold=0.5)
        cfg.tta_model = dict(type="DetTTAModel", tta_cfg=dict(nms=nms, max_per_img=100))
    dataset = leaf_datasets(cfg, "test_dataloader")[0].cfg
    if "tta_pipeline" not in cfg:
        pipeline = copy.deepcopy(dataset.pipeline)
        flips = [dict(type="RandomFlip", prob=1.0), dict(type="RandomFlip", prob=0.0)]
        meta_keys = ("img_id", "img_path", "ori_shape", "img_shape", "scale_factor", "flip")
        pack = dict(type="PackDetInputs", meta_keys=meta_keys + ("flip_direction",))
        pipeline[-1] = dict(type="TestTimeAug", transforms=[flips, [pack]])
        cfg.tta_pipeline = pipeline
    cfg.model = ConfigDict(**cfg.tta_model, module=cfg.model)
    dataset.pipeline = cfg.tta_pipeline


def _train(args: argparse.Namespace) -> None:
    cfg = load_config(args)
    configure_train(cfg, args)
    model = build_model_for_run(cfg)
    check_local_checkpoint_fits(model.module, *_training_checkpoint(cfg))
    check_optimizer_and_schedulers(cfg, model.module)
    if not args.check_only:
        build_runner(cfg, model).train()


def _test(args: argparse.Namespace) -> None:
    from mmdet.evaluation import DumpDetResults

    cfg = load_config(args)
    configure_test(cfg, args)
    model = build_model_for_run(cfg)
    check_local_checkpoint_fits(model.module, cfg.load_from, "test")
    if args.check_only:
        return
    runner = build_runner(cfg, model)
    if args.out is not None:
        runner.test_evaluator.metrics.append(DumpDetResults(out_file_path=args.out))
    runner.test()


def _precise_bn(args: argparse.Namespace) -> None:
    from .precise_bn import precise_bn_checkpoint

    cfg = load_config(args)
    precise_bn_checkpoint(cfg, args.checkpoint, args.out, args.batches, args.scope or None)


def _run(job: Callable[[argparse.Namespace], None], args: argparse.Namespace) -> int:
    """Run ``job``; bad input and a non-finite stop end as one ``error:`` line.

    A process group the job started is destroyed before this returns.
    """
    setup_cache_size_limit_of_dynamo()
    try:
        with process_group_scope():
            job(args)
    except BadInputError as exc:  # also from the runner: a URL checkpoint's load
        return print_error(str(exc))
    except NonFiniteLossError as exc:
        return print_error(str(exc), EXIT_NON_FINITE)
    except AssertionError as exc:  # also re-raised from a data loader worker, whose
        images = _UNDECODABLE_IMAGE.findall(str(exc))  # message quotes the source line first
        if not images:
            raise
        return print_error(
            f"image {images[-1].strip()} cannot be decoded (corrupt or not an image); "
            "replace it or remove its entry from the annotation file, then continue with "
            "--resume",
            EXIT_BAD_INPUT,
        )
    return 0


def run_train(argv: Sequence[str] | None = None) -> int:
    """``tools/train.py``: returns the exit status."""
    return _run(_train, train_parser().parse_args(argv))


def run_test(argv: Sequence[str] | None = None) -> int:
    """``tools/test.py``: returns the exit status."""
    return _run(_test, test_parser().parse_args(argv))


def run_precise_bn(argv: Sequence[str] | None = None) -> int:
    """``tools/precise_bn.py``: returns the exit status."""
    return _run(_precise_bn, precise_bn_parser().parse_args(argv))
