# `make quickstart`: seed row C4, the seed's best (sephv2 box head + cosine + EvoNorm-S0
# box and mask heads, FPN P3-P6 with EvoNorm-S0, GIoU RPN), sized for 2 CPU cores and
# trained from scratch on the embedded nuclei set (tools/build_nuclei_dataset.py;
# docs/quickstart.md).
#
# The sizing is ../_base_/nuclei_cpu_sizing.py, shared with `tools/ablate.py --preset nuclei`; it
# applies to whichever row the `read_base()` block imports, so a CPU variant of another
# row is this file with another import, e.g. the baseline B1:
#   from ..mask_rcnn_fpn3_evonorm import *
# (`tools/ablate.py B1 --preset nuclei` keeps each row's own LR schedule instead of the
# quickstart's below.)
from mmengine.config import read_base

with read_base():
    from .._base_.nuclei_cpu_sizing import nuclei_cpu, upscale
    from ..mask_rcnn_fpn3_sephv2_evonorm_cosine import *

data_root = nuclei_cpu.data_root
metainfo = nuclei_cpu.metainfo
model.merge(nuclei_cpu.model)
train_pipeline = nuclei_cpu.train_pipeline
# the row's test pipeline with its fixed-scale Resize swapped for the 2x upscaling
test_pipeline = [upscale if step["type"] == "Resize" else step for step in test_pipeline]
train_dataloader.merge(nuclei_cpu.train_dataloader)
val_dataloader.merge(nuclei_cpu.val_dataloader)
val_dataloader.dataset.pipeline = test_pipeline
test_dataloader = val_dataloader
val_evaluator.merge(nuclei_cpu.val_evaluator)
test_evaluator = val_evaluator
optim_wrapper.merge(nuclei_cpu.optim_wrapper)
auto_scale_lr.merge(nuclei_cpu.auto_scale_lr)
default_hooks.merge(nuclei_cpu.default_hooks)
log_processor.merge(nuclei_cpu.log_processor)
randomness = nuclei_cpu.randomness
del nuclei_cpu, upscale

# The quickstart's own schedule: 400 iterations, 50 of warm-up, cosine.
max_iters = 400
train_cfg.merge(dict(max_iters=max_iters, val_interval=max_iters))
default_hooks.checkpoint.interval = max_iters
param_scheduler = [
    dict(type="LinearLR", start_factor=0.01, by_epoch=False, begin=0, end=50),
    dict(type="CosineAnnealingLR", by_epoch=False, begin=50, end=max_iters, eta_min=1e-4),
]
