"""Cost of one detector config: parameters, FLOPs, step times, peak memory, top ops.

The logic behind ``tools/benchmark.py`` (one config) and ``tools/benchmark_rows.py``
(every ablation row in one process). A :class:`ModelBench` builds a config's model
with random weights (``backbone.init_cfg=None``: nothing is downloaded) and a fixed
synthetic batch, then times the two things a user pays for:

.. code-block:: none

    train step = model.train_step(batch, optim_wrapper)   data preprocessing, loss,
                 backward, grad clip, SGD step (the config's optim_wrapper, lr = 0 so
                 the weights, hence the detections, stay the same from step to step)
    inference  = model.test_step(batch)                    preprocessing, RPN, NMS, box
                 and mask heads, mask pasting at image size (what a test run does)

Each is measured as wall-clock seconds (CUDA-synchronised on a GPU) and as the CPU
seconds of this process. On a CPU shared with other processes the CPU time of a
single-threaded step hardly depends on their load, while its wall time does (and
several intra-op threads on a busy machine slow down a lot as they wait for each
other). :func:`time_interleaved` lets several models take turns, so a change of
machine load hits them alike.

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
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import NamedTuple

import torch
from mmengine.config import Config, ConfigDict
from torch import nn

from .timing import LoadMeter, machine_description, median_ratio, summarize, sync

#: Test-scale area of the recipe for a 4:3 COCO image (short side 576).
RECIPE_AREA = 576 * 768
#: Keys of :func:`time_interleaved`'s lists: wall clock and CPU time per step.
TIME_KEYS = ("train", "infer", "train_cpu", "infer_cpu")
#: Modules timed as one block by :func:`profile_steps` (dotted names in the detector).
COMPONENTS = (
    "backbone",
    "neck",
    "rpn_head",
    "roi_head.bbox_roi_extractor",
    "roi_head.shared_head",
    "roi_head.bbox_head",
    "roi_head.mask_roi_extractor",
    "roi_head.mask_head",
)


@dataclass(frozen=True)
class BenchmarkInput:
    """The synthetic batch and RoI budget every model of a benchmark gets.

    Args:
        height, width: Image size in pixels (padded to a multiple of 32 by the
            data preprocessor).
        num_images: Images per batch (train step and inference alike).
        num_objects: Random ground-truth boxes + masks per image.
        roi_scale: Factor on the recipe's per-image RoI counts; None = the
            input's area / :data:`RECIPE_AREA`, at most 1.
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


def add_input_args(parser: argparse.ArgumentParser) -> None:
    """The input, device and warm-up options of the benchmark tools."""
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--amp", action="store_true", help="float16 autocast (CUDA only)")
    parser.add_argument("--input", type=_parse_size, default=(288, 384), metavar="HxW")
    parser.add_argument(
        "--flops-input",
        type=_parse_size,
        default=(576, 768),
        metavar="HxW",
        help="image size for the FLOPs count, at the config's RoI counts (default: recipe)",
    )
    parser.add_argument("--batch", type=int, default=2, help="images per step")
    parser.add_argument("--objects", type=int, default=8, help="ground-truth objects per image")
    parser.add_argument(
        "--roi-scale",
        type=float,
        default=None,
        help="factor on the per-image RoI counts (default: input area / 576x768, at most 1)",
    )
    parser.add_argument(
        "--score-thr",
        type=float,
        default=0.0,
        help="test score threshold for every model (default 0: max_per_img detections)",
    )
    parser.add_argument("--warmup", type=int, default=2, help="untimed iterations")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads")


def input_from_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> BenchmarkInput:
    """Check the options of :func:`add_input_args` (``parser.error`` on bad ones), set
    the thread count and return the :class:`BenchmarkInput`."""
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA device is available; use --device cpu")
    if args.amp and args.device != "cuda":
        parser.error("--amp needs --device cuda")
    for field in ("batch", "objects", "threads"):
        value = getattr(args, field)
        if value is not None and value < 1:
            parser.error(f"--{field} must be >= 1")
    if args.warmup < 0:
        parser.error("--warmup must be >= 0")
    if args.roi_scale is not None and not 0 < args.roi_scale <= 1:
        parser.error("--roi-scale must be in (0, 1]")
    if args.threads:
        torch.set_num_threads(args.threads)
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


class StepTime(NamedTuple):
    """Seconds of one step: wall clock and CPU time of this process."""

    wall: float
    cpu: float


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
        if rpn is not None:
            rpn.update(
                nms_pre=_scaled(rpn.nms_pre, scale), max_per_img=_scaled(rpn.max_per_img, scale)
            )
    sampler = model.train_cfg.rcnn.sampler
    sampler.num = _scaled(sampler.num, scale)
    rcnn = model.test_cfg.rcnn
    rcnn.max_per_img = _scaled(rcnn.max_per_img, scale)
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

        self.device = torch.device(device)
        if amp and self.device.type != "cuda":
            raise ValueError("--amp needs --device cuda")
        self.amp = amp
        self.cfg = cfg
        model_cfg = benchmark_model_cfg(cfg.model, inp)
        self.model = build_model(model_cfg, self.device)
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

    def _autocast(self):
        return torch.autocast("cuda", dtype=torch.float16) if self.amp else nullcontext()

    def _timed(self, fn: Callable[[], object]) -> tuple[StepTime, object]:
        sync(self.device)
        wall, cpu = time.perf_counter(), time.process_time()
        out = fn()
        sync(self.device)
        return StepTime(time.perf_counter() - wall, time.process_time() - cpu), out

    def train_step(self) -> StepTime:
        """Time of one training step."""
        self.model.train()
        elapsed, _ = self._timed(partial(self.model.train_step, self.batch, self.optim_wrapper))
        self.optim_wrapper.zero_grad(set_to_none=True)
        return elapsed

    def infer_step(self) -> StepTime:
        """Time of inference on the whole batch."""
        self.model.eval()
        with torch.no_grad(), self._autocast():
            elapsed, results = self._timed(partial(self.model.test_step, self.batch))
        self.detections_per_image = sum(len(r.pred_instances) for r in results) / len(results)
        return elapsed

    def peak_memory(self, step: str) -> int:
        """Peak bytes allocated by tensors during one ``step`` ('train' or 'infer')
        above what was allocated before it (:func:`peak_allocated`)."""
        return peak_allocated(getattr(self, f"{step}_step"), self.device)


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


def build_model(model_cfg: ConfigDict, device: torch.device) -> nn.Module:
    """The detector of ``model_cfg`` with seeded random weights, on ``device``."""
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules

    import mmdet_evonorm  # noqa: F401  (registers this package's modules)

    register_all_modules()
    torch.manual_seed(0)
    model = MODELS.build(model_cfg)
    model.init_weights()
    return model.to(device)


def model_flops(cfg: Config, height: int, width: int, device: str = "cpu") -> tuple[int, str]:
    """FLOPs of ``cfg``'s model on one ``height x width`` image, and the counting method.

    Counts mmdet's ``tensor`` forward, as its ``get_flops.py`` does: backbone, neck,
    RPN, the box head on all proposals and the mask head on the first 100 (the
    config's own RoI counts; at the recipe's 576 x 768 test scale that is the work
    of inference with 100 detections). See :func:`count_flops`.
    """
    inp = BenchmarkInput(height, width, num_images=1, roi_scale=1.0)
    model = build_model(benchmark_model_cfg(cfg.model, inp), torch.device(device)).eval()
    data = model.data_preprocessor(make_batch(inp, _num_classes(cfg.model)), False)
    return count_flops(model, data["inputs"], data["data_samples"])


def count_flops(model: nn.Module, inputs: torch.Tensor, data_samples: list) -> tuple[int, str]:
    """FLOPs (1 per multiply-add) of ``model(inputs, data_samples, mode='tensor')``.

    mmengine's ``FlopAnalyzer`` first (it traces the model with ``torch.jit``); if
    tracing fails, PyTorch's ``FlopCounterMode`` (which counts 2 per multiply-add;
    halved here). FlopAnalyzer also counts norms and resizes, FlopCounterMode only
    convolutions and matrix products. Returns ``(flops, method)``, where the method
    names the counter and, for the fallback, why FlopAnalyzer failed.
    """
    from mmengine.analysis import FlopAnalyzer
    from torch.utils.flop_counter import FlopCounterMode

    forward = partial(model.forward, data_samples=data_samples, mode="tensor")
    try:
        with _forward_replaced(model, forward), torch.no_grad():
            analyzer = FlopAnalyzer(model, (inputs,))
            analyzer.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
            return int(analyzer.total()), "mmengine FlopAnalyzer"
    except Exception as exc:  # any tracing failure selects the fallback
        reason = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        forward(inputs)
    return counter.get_total_flops() // 2, f"FlopCounterMode (FlopAnalyzer failed: {reason})"


@contextmanager
def _forward_replaced(model: nn.Module, forward: Callable) -> Iterator[None]:
    model.forward = forward
    try:
        yield
    finally:
        del model.forward  # back to the class's forward


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
    live = peak = 0
    for _, nbytes in events:
        live += nbytes
        peak = max(peak, live)
    return peak


def time_interleaved(
    benches: dict[str, ModelBench],
    warmup: int,
    rounds: int,
    progress: Callable[[str], None] | None = None,
    steps: tuple[str, ...] = ("train", "infer"),
) -> dict[str, dict[str, list[float]]]:
    """Train-step and inference times per model, one of each per round.

    Within a round every model runs a train step then an inference pass, in
    turn; each round starts one model later than the previous one, so no model
    always runs first. The first ``warmup`` rounds are not recorded. Returns
    ``{name: {step: [seconds, ...]}}`` for the steps 'train', 'infer' (wall
    clock) and 'train_cpu', 'infer_cpu' (CPU time), ``rounds`` entries each;
    ``steps=('infer',)`` times inference only (trained weights).
    """
    keys = [key for key in TIME_KEYS if key.split("_")[0] in steps]
    times = {name: {key: [] for key in keys} for name in benches}
    names = list(benches)
    for index in range(warmup + rounds):
        shift = index % len(names)
        for name in names[shift:] + names[:shift]:
            bench = benches[name]
            steps_run = {step: getattr(bench, f"{step}_step")() for step in steps}
            if index >= warmup:
                for step, elapsed in steps_run.items():
                    times[name][step].append(elapsed.wall)
                    times[name][f"{step}_cpu"].append(elapsed.cpu)
            if progress:
                tag = "warm-up" if index < warmup else f"round {index - warmup + 1}/{rounds}"
                progress(
                    f"{tag} {name}: "
                    + ", ".join(
                        f"{k} {t.wall:.2f} s (CPU {t.cpu:.2f} s)" for k, t in steps_run.items()
                    )
                )
    return times


@contextmanager
def _labelled(model: nn.Module) -> Iterator[None]:
    """Wrap the forward of every :data:`COMPONENTS` module and every norm layer
    in a profiler label (``module:<name>``, ``norm:<class>``)."""
    from mmengine.utils.dl_utils.parrots_wrapper import _BatchNorm

    from mmdet_evonorm.models.layers import EvoNormS0

    norms = (_BatchNorm, nn.GroupNorm, EvoNormS0)
    handles, stack = [], []

    def enter(label, _module, _args):
        stack.append(torch.profiler.record_function(label))
        stack[-1].__enter__()

    def leave(_module, _args, _output):
        stack.pop().__exit__(None, None, None)

    for name, module in model.named_modules():
        label = f"module:{name}" if name in COMPONENTS else None
        if isinstance(module, norms):
            label = f"norm:{type(module).__name__}"
        if label:
            handles.append(module.register_forward_pre_hook(partial(enter, label)))
            handles.append(module.register_forward_hook(leave))
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def profile_steps(
    bench: ModelBench, top: int = 12, steps: tuple[str, ...] = ("train", "infer")
) -> dict[str, str]:
    """torch.profiler tables of one train step and one inference pass.

    Per step: the forward time of each component and norm type (``module:*``,
    ``norm:*``; inclusive, forward only) and the ``top`` operators by self time
    (forward and backward), each as a share of the step's wall time. Run a warm-up
    step first. Returns ``{step: markdown}`` for each of ``steps``.
    """
    from torch.profiler import profile

    tables = {}
    for step in steps:
        with _labelled(bench.model), profile(activities=_activities(bench.device)) as prof:
            wall = getattr(bench, f"{step}_step")().wall
        tables[step] = _profile_table(prof.key_averages(), wall, top)
    return tables


def _activities(device: torch.device) -> list:
    from torch.profiler import ProfilerActivity

    cuda = [ProfilerActivity.CUDA] if device.type == "cuda" else []
    return [ProfilerActivity.CPU, *cuda]


def _profile_table(averages, wall: float, top: int) -> str:
    def share(us: float) -> str:
        return f"{us / 1e3:.0f} ms | {100 * us / 1e6 / wall:.1f} %"

    lines = [
        f"step wall time {wall * 1e3:.0f} ms (with profiler)",
        "",
        "| label / operator | calls | time | share of step |",
        "|---|---:|---:|---:|",
    ]
    labels = sorted(
        (e for e in averages if e.key.startswith(("module:", "norm:"))),
        key=lambda e: -e.cpu_time_total,
    )
    for e in labels:
        lines.append(f"| `{e.key}` (forward, inclusive) | {e.count} | {share(e.cpu_time_total)} |")
    ops = sorted(
        (e for e in averages if not e.key.startswith(("module:", "norm:"))),
        key=lambda e: -e.self_cpu_time_total,
    )
    for e in ops[:top]:
        lines.append(f"| `{e.key}` (self) | {e.count} | {share(e.self_cpu_time_total)} |")
    return "\n".join(lines)


def fmt_bytes(nbytes: int) -> str:
    return f"{nbytes / 2**20:.0f} MiB"


def fmt_count(count: float) -> str:
    return f"{count / 1e9:.2f} G" if count >= 1e9 else f"{count / 1e6:.2f} M"


__all__ = [
    "BenchmarkInput",
    "StepTime",
    "TIME_KEYS",
    "add_input_args",
    "benchmark_model_cfg",
    "box_head_rows",
    "dataset_batch",
    "input_from_args",
    "LoadMeter",
    "ModelBench",
    "build_model",
    "count_flops",
    "fmt_bytes",
    "fmt_count",
    "load_config",
    "machine_description",
    "make_batch",
    "median_ratio",
    "model_flops",
    "peak_allocated",
    "profile_steps",
    "scale_roi_counts",
    "summarize",
    "time_interleaved",
]
