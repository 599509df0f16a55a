"""One detector config, ready to measure: model, optimizer, batch and RoI budget.

A :class:`ModelBench` builds a config's model with random weights
(``backbone.init_cfg=None``: nothing is downloaded) and a fixed batch, and offers
the two steps a user pays for:

.. code-block:: none

    train step = model.train_step(batch, optim_wrapper)   data preprocessing, loss,
                 backward, grad clip, SGD step (the config's optim_wrapper, lr = 0 so
                 the weights, hence the detections, stay the same from step to step)
    inference  = model.test_step(batch)                    preprocessing, RPN, NMS, box
                 and mask heads, mask pasting at image size (what a test run does)

The input is ``num_images`` random images of ``height x width`` with ``num_objects``
random boxes and masks each (``mmdet.testing.demo_mm_inputs``, fixed seed). The
recipe's RoI counts (1000 proposals, 128 sampled RoIs and 100 detections per image)
scale with ``roi_scale``; by default it is the input's area over the recipe's
test-scale area (576 x 768 for a 4:3 COCO image), at most 1, so that backbone and
per-RoI costs keep the recipe's proportions on a small input. The test score
threshold is ``score_thr`` (default 0) for every model: with random weights some
heads score no box above the configs' 0.05 and others many, so the mask head's
share of inference would depend on the initialisation; at 0 every image keeps the
config's ``max_per_img`` detections, as a trained model mostly does on COCO.
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
    """The synthetic batch and RoI budget every model of a benchmark gets.

    Args:
        height, width: Image size in pixels.
        num_images, num_objects: Images per batch; random boxes + masks per image.
        roi_scale: Factor on the per-image RoI counts; None: the input's area over
            :data:`RECIPE_AREA`, at most 1.
        score_thr: Test score threshold of the R-CNN head; None keeps the config's.
    """

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


def _parse_size(text: str) -> tuple[int, int]:
    try:
        height, width = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected HxW, e.g. 288x384, got {text!r}") from None
    if height < 32 or width < 32:
        raise argparse.ArgumentTypeError(f"image size must be at least 32x32, got {text!r}")
    return height, width


def add_input_arguments(parser: argparse.ArgumentParser) -> None:
    """The input options of the detector benchmarks."""
    add = parser.add_argument
    add("--amp", action="store_true", help="float16 autocast (CUDA only)")
    add("--input", type=_parse_size, default=(288, 384), metavar="HxW")
    add("--flops-input", type=_parse_size, default=(576, 768), metavar="HxW", help="FLOPs image")
    add("--batch", type=int, default=2, help="images per step")
    add("--objects", type=int, default=8, help="ground-truth objects per image")
    add("--roi-scale", type=float, help="factor on per-image RoI counts (default: area/576x768)")
    add("--score-thr", type=float, default=0.0, help="test score threshold (0: max_per_img)")


def input_from_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> BenchmarkInput:
    """Check the options of :func:`add_input_arguments` (``parser.error`` on bad ones)."""
    if args.amp and args.device != "cuda":
        parser.error("--amp needs --device cuda")
    at_least(parser, args, 1, "batch", "objects")
    if args.roi_scale is not None and not 0 < args.roi_scale <= 1:
        parser.error("--roi-scale must be in (0, 1]")
    return BenchmarkInput(*args.input, args.batch, args.objects, args.roi_scale, args.score_thr)


def load_config(path: str | Path, cfg_options: dict | None = None) -> Config:
    """The config at ``path`` with ``cfg_options`` merged and no pretrained backbone."""
    cfg = Config.fromfile(str(path))
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    if "model" not in cfg:
        raise ValueError(f"{path}: no `model` in the config")
    cfg.model.backbone.init_cfg = None
    return cfg


def _scaled(count: int, scale: float) -> int:
    return max(1, round(count * scale))


def benchmark_model_cfg(model_cfg: ConfigDict, inp: BenchmarkInput) -> ConfigDict:
    """A copy of ``model_cfg`` with the RoI counts and score threshold of ``inp``."""
    model = scale_roi_counts(model_cfg, inp.resolved_roi_scale)
    if inp.score_thr is not None:
        model.test_cfg.rcnn.score_thr = inp.score_thr
    return model


def scale_roi_counts(model_cfg: ConfigDict, scale: float) -> ConfigDict:
    """A copy of ``model_cfg`` with every per-image RoI count times ``scale``.

    Scales RPN ``nms_pre`` / ``max_per_img`` (train and test), the R-CNN sampler's
    ``num`` and the test ``max_per_img``; the RPN's anchor sampler is left alone.
    """
    model = copy.deepcopy(model_cfg)
    if scale == 1:
        return model
    for rpn in (model.train_cfg.get("rpn_proposal"), model.test_cfg.get("rpn")):
        for key in ("nms_pre", "max_per_img") if rpn is not None else ():
            rpn[key] = _scaled(rpn[key], scale)
    model.train_cfg.rcnn.sampler.num = _scaled(model.train_cfg.rcnn.sampler.num, scale)
    model.test_cfg.rcnn.max_per_img = _scaled(model.test_cfg.rcnn.max_per_img, scale)
    return model


def make_batch(inp: BenchmarkInput, num_classes: int) -> dict:
    """The fixed random batch of ``inp`` (``demo_mm_inputs`` is seeded)."""
    from mmdet.testing import demo_mm_inputs

    return demo_mm_inputs(
        batch_size=inp.num_images,
        image_shapes=[(3, inp.height, inp.width)] * inp.num_images,
        num_items=[inp.num_objects] * inp.num_images,
        num_classes=num_classes,
        with_mask=True,
    )


def _num_classes(model_cfg: ConfigDict) -> int:
    head = model_cfg.roi_head.bbox_head
    return (head[-1] if isinstance(head, list) else head).num_classes


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
    """One config's model, optimizer and batch, ready to time.

    Args:
        cfg: A config from :func:`load_config`.
        inp: The batch and RoI budget.
        device: 'cpu' or 'cuda'.
        amp: Mixed precision (CUDA only): ``AmpOptimWrapper`` for training,
            ``torch.autocast`` for inference.
        checkpoint: Trained weights to load (strictly) instead of the random ones.
            Time only inference then: a train step, even at lr 0, updates the
            running statistics of BN layers in train mode.
        batch: The batch to run (e.g. :func:`dataset_batch`); default: the random
            batch of ``inp``.
    """

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
        self.batch = batch if batch is not None else make_batch(inp, _num_classes(model_cfg))
        self.num_images = inp.num_images
        self.detections_per_image = float("nan")

    @property
    def num_params(self) -> int:
        return sum(p.numel() for p in self.model.parameters())

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
        """Parameters and FLOPs of the model, and how they were counted.

        FLOPs: mmdet's ``tensor`` forward of one ``flops_input`` image, as its
        ``get_flops.py`` counts: backbone, neck, RPN, the box head on all proposals
        and the mask head on the first 100 (the config's own RoI counts: at the
        recipe's 576 x 768 that is inference with 100 detections).
        """
        inp = BenchmarkInput(*flops_input, num_images=1, roi_scale=1.0)
        model_cfg = benchmark_model_cfg(self.cfg.model, inp)
        model = build_module(model_cfg, self.device).eval()
        data = model.data_preprocessor(make_batch(inp, _num_classes(model_cfg)), False)
        forward = partial(model.forward, data_samples=data["data_samples"], mode="tensor")
        flops, method = count_flops(model, (data["inputs"],), forward)
        return dict(params=self.num_params, flops=flops, flops_method=method)

    def peak_memory(self) -> dict[str, int]:
        """``{'mem_train', 'mem_infer'}``: :func:`peak_allocated` of one step each."""
        return {f"mem_{step}": peak_allocated(fn, self.device) for step, fn in self.steps().items()}


@contextmanager
def box_head_rows(model: nn.Module) -> Iterator[dict[str, int]]:
    """Count the RoIs the box head classifies ('cls') and regresses ('reg')
    (rows into its ``fc_cls`` / ``fc_reg``) while the context is open."""
    head = model.roi_head.bbox_head
    rows = {"cls": 0, "reg": 0}

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

    CUDA: ``torch.cuda.max_memory_allocated``. CPU: the allocation and free events
    of ``torch.profiler`` (``profile_memory=True``) summed in time order; unlike the
    process RSS this ignores allocator caching and other threads' memory.
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
