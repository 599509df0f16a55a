"""One detector config, ready to measure: model, optimizer, batch and RoI budget.

The steps are ``model.train_step`` (the config's optimizer at lr 0: the same detections
every step) and ``model.test_step``. On a small input the recipe's per-image RoI counts
scale with its area (so backbone and per-RoI costs keep their proportions), and the test
score threshold is 0 (every model keeps ``max_per_img`` detections, as a trained one
mostly does on COCO, whatever its random weights score). See docs/benchmarks_rows.md.
"""

from __future__ import annotations

import argparse
import copy
import itertools
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import torch
from mmengine.config import Config, ConfigDict
from torch import nn

from .build import build_module
from .cli import at_least
from .flops import count_flops

#: Test-scale area of the recipe for a 4:3 COCO image (short side 576).
RECIPE_AREA = 576 * 768
STEPS = ("train", "infer")


@dataclass(frozen=True)
class BenchmarkInput:
    """``num_images`` random images of ``height`` x ``width`` with ``num_objects`` boxes and
    masks each; ``roi_scale`` on the per-image RoI counts (None: the input's area over
    :data:`RECIPE_AREA`, at most 1); ``score_thr`` (None: the config's)."""

    height: int = 288
    width: int = 384
    num_images: int = 2
    num_objects: int = 8
    roi_scale: float | None = None
    score_thr: float | None = 0.0

    @property
    def resolved_roi_scale(self) -> float:
        if self.roi_scale is not None:
            return self.roi_scale
        return min(1.0, self.height * self.width / RECIPE_AREA)

    def describe(self) -> str:
        scale = self.resolved_roi_scale
        recipe = ", ".join(f"{n} -> {_scaled(n, scale)}" for n in (1000, 128, 100))
        thr = "as configured" if self.score_thr is None else self.score_thr
        return (
            f"{self.num_images} random image(s) of {self.height}x{self.width}, "
            f"{self.num_objects} random boxes + masks each; per-image RoI counts x{scale:.3g} "
            f"of the config's (recipe: proposals, sampled RoIs, detections {recipe}); "
            f"test score threshold {thr}"
        )


def _size(text: str) -> tuple[int, int]:
    """An argparse ``type``: ``HxW``, both at least 32."""
    try:
        height, width = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected HxW, e.g. 288x384, got {text!r}") from None
    if height < 32 or width < 32:
        raise argparse.ArgumentTypeError(f"image size must be at least 32x32, got {text!r}")
    return height, width


def fraction(text: str) -> float:
    """An argparse ``type``: a float in (0, 1]."""
    if not 0 < float(text) <= 1:
        raise argparse.ArgumentTypeError("must be in (0, 1]")
    return float(text)


def add_input_arguments(parser: argparse.ArgumentParser) -> None:
    """The input options of the detector benchmarks (:func:`input_from_args`)."""
    add = parser.add_argument
    add("--amp", action="store_true", help="float16 autocast (CUDA only)")
    add("--input", type=_size, default=(288, 384), metavar="HxW")
    add("--flops-input", type=_size, default=(576, 768), metavar="HxW", help="FLOPs image")
    add("--batch", type=at_least(1), default=2, help="images per step")
    add("--objects", type=at_least(1), default=8, help="ground-truth objects per image")
    add("--roi-scale", type=fraction, help="factor on per-image RoI counts (default: area/576x768)")
    add("--score-thr", type=float, default=0.0, help="test score threshold (0: max_per_img)")


def input_from_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> BenchmarkInput:
    """The :class:`BenchmarkInput` of :func:`add_input_arguments`' options (``--amp``: CUDA)."""
    if args.amp and args.device != "cuda":
        parser.error("--amp needs --device cuda")
    return BenchmarkInput(*args.input, args.batch, args.objects, args.roi_scale, args.score_thr)


def load_config(path: str | Path, cfg_options: dict | None = None) -> Config:
    """The config at ``path`` with ``cfg_options`` merged and no pretrained backbone."""
    cfg = Config.fromfile(str(path))
    cfg.merge_from_dict(cfg_options or {})
    if "model" not in cfg:
        raise ValueError(f"{path}: no `model` in the config")
    cfg.model.backbone.init_cfg = None
    return cfg


def _scaled(count: int, scale: float) -> int:
    return count if scale == 1 else max(1, round(count * scale))


def benchmark_model_cfg(model_cfg: ConfigDict, inp: BenchmarkInput) -> ConfigDict:
    """A copy of ``model_cfg`` with ``inp``'s score threshold and every per-image RoI count
    (RPN ``nms_pre`` / ``max_per_img`` in train and test, the R-CNN sampler's ``num``, the
    test ``max_per_img``; not the RPN's anchor sampler) times ``inp``'s RoI scale."""
    model, scale = copy.deepcopy(model_cfg), inp.resolved_roi_scale
    for rpn in (model.train_cfg.get("rpn_proposal"), model.test_cfg.get("rpn")):
        for key in ("nms_pre", "max_per_img") if rpn is not None else ():
            rpn[key] = _scaled(rpn[key], scale)
    model.train_cfg.rcnn.sampler.num = _scaled(model.train_cfg.rcnn.sampler.num, scale)
    model.test_cfg.rcnn.max_per_img = _scaled(model.test_cfg.rcnn.max_per_img, scale)
    if inp.score_thr is not None:
        model.test_cfg.rcnn.score_thr = inp.score_thr
    return model


def make_batch(inp: BenchmarkInput, model_cfg: ConfigDict) -> dict:
    """The fixed random batch of ``inp`` for ``model_cfg``'s classes (seeded)."""
    from mmdet.testing import demo_mm_inputs

    head = model_cfg.roi_head.bbox_head
    return demo_mm_inputs(
        batch_size=inp.num_images,
        image_shapes=[(3, inp.height, inp.width)] * inp.num_images,
        num_items=[inp.num_objects] * inp.num_images,
        num_classes=(head[-1] if isinstance(head, list) else head).num_classes,
        with_mask=True,
    )


def dataset_batch(cfg: Config, num_images: int) -> dict:
    """The first ``num_images`` samples of ``cfg``'s test dataset through its pipeline,
    collated as the test dataloader would (real images for trained weights)."""
    from mmdet.registry import DATASETS
    from mmdet.utils import register_all_modules
    from mmengine.dataset import pseudo_collate

    register_all_modules()
    dataset = DATASETS.build(copy.deepcopy(cfg.test_dataloader.dataset))
    if len(dataset) < num_images:
        raise ValueError(f"the test set has {len(dataset)} images, fewer than {num_images}")
    return pseudo_collate([dataset[i] for i in range(num_images)])


class ModelBench:
    """``cfg``'s model (random weights, or ``checkpoint``'s: time only inference then, as a
    train step moves BN statistics), optimizer and ``batch`` (default: ``inp``'s); ``amp``:
    ``AmpOptimWrapper`` and float16 autocast (CUDA)."""

    def __init__(
        self,
        cfg: Config,
        inp: BenchmarkInput,
        device: str = "cpu",
        amp: bool = False,
        checkpoint: str | Path | None = None,
        batch: dict | None = None,
    ) -> None:
        from mmengine.optim import build_optim_wrapper
        from mmengine.runner import load_checkpoint

        self.device, self.amp, self.cfg = torch.device(device), amp, cfg
        model_cfg = benchmark_model_cfg(cfg.model, inp)
        self.model = build_module(model_cfg, self.device)
        if checkpoint is not None:
            load_checkpoint(self.model, str(checkpoint), map_location=self.device, strict=True)
        optim_cfg = copy.deepcopy(cfg.get("optim_wrapper", dict(optimizer=dict(type="SGD"))))
        optim_cfg.optimizer.lr = 0.0  # same weights every step: steady detections
        if amp:
            optim_cfg.type = "AmpOptimWrapper"
        self.optim_wrapper = build_optim_wrapper(self.model, optim_cfg)
        self.batch = batch if batch is not None else make_batch(inp, model_cfg)
        self.num_images = inp.num_images
        self.detections_per_image = float("nan")

    def train_step(self) -> None:
        """One training step."""
        self.model.train()
        self.model.train_step(self.batch, self.optim_wrapper)
        self.optim_wrapper.zero_grad(set_to_none=True)

    def infer_step(self) -> None:
        """Inference on the whole batch; records the detections per image."""
        self.model.eval()
        autocast = torch.autocast("cuda", dtype=torch.float16) if self.amp else nullcontext()
        with torch.no_grad(), autocast:
            results = self.model.test_step(self.batch)
        self.detections_per_image = sum(len(r.pred_instances) for r in results) / len(results)

    def steps(self, names: tuple[str, ...] = STEPS) -> dict[str, Callable[[], None]]:
        """``{'train': train_step, 'infer': infer_step}`` (those of ``names``)."""
        return {name: getattr(self, f"{name}_step") for name in names}

    def cost(self, flops_input: tuple[int, int]) -> dict:
        """Parameters, and FLOPs of mmdet's ``tensor`` forward of one ``flops_input`` image
        as its ``get_flops.py`` counts them (backbone, neck, RPN, the box head on all
        proposals, the mask head on the first 100: the config's own RoI counts)."""
        inp = BenchmarkInput(*flops_input, num_images=1, roi_scale=1.0)
        model_cfg = benchmark_model_cfg(self.cfg.model, inp)
        model = build_module(model_cfg, self.device).eval()
        data = model.data_preprocessor(make_batch(inp, model_cfg), False)
        forward = partial(model.forward, data_samples=data["data_samples"], mode="tensor")
        flops, method = count_flops(model, (data["inputs"],), forward)
        params = sum(p.numel() for p in self.model.parameters())
        return dict(params=params, flops=flops, flops_method=method)

    def peak_memory(self) -> dict[str, int]:
        """``{'mem_train', 'mem_infer'}``: :func:`peak_allocated` of one step each."""
        return {f"mem_{step}": peak_allocated(fn, self.device) for step, fn in self.steps().items()}


@contextmanager
def box_head_rows(model: nn.Module) -> Iterator[dict[str, int]]:
    """Count the RoIs the box head classifies ('cls') and regresses ('reg') (rows into
    its ``fc_cls`` / ``fc_reg``) while the context is open."""
    head, rows = model.roi_head.bbox_head, {"cls": 0, "reg": 0}

    def count(key, _module, args, _output):
        rows[key] += len(args[0])

    handles = [
        getattr(head, f"fc_{key}").register_forward_hook(partial(count, key))
        for key in rows
        if getattr(head, f"fc_{key}", None) is not None
    ]
    try:
        yield rows
    finally:
        for handle in handles:
            handle.remove()


def peak_allocated(fn: Callable[[], object], device: torch.device) -> int:
    """Peak tensor bytes allocated while ``fn()`` runs, above those live before it.

    CUDA: ``torch.cuda.max_memory_allocated``. CPU: ``torch.profiler``'s allocation and
    free events summed in time order (unlike the RSS: no allocator caching, no other
    threads' memory).
    """
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        before = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        fn()
        torch.cuda.synchronize(device)
        return torch.cuda.max_memory_allocated(device) - before
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    events = sorted(
        (e.start_ns(), e.nbytes())
        for e in prof.profiler.kineto_results.events()
        if e.name() == "[memory]" and e.device_type() == torch.autograd.DeviceType.CPU
    )
    return max([0, *itertools.accumulate(nbytes for _, nbytes in events)])
