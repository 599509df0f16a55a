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
from mmengine.config.config import import_modules_from_strings

with read_base():
    from ..mask_rcnn_fpn3_sephv2_evonorm_cosine import *

# The sizing, applied while this file is read by the one function that also sizes every
# `tools/ablate.py --preset nuclei` run (mmdet_evonorm/sizing/nuclei_cpu.py; the import
# above is a real one, see _base_/default_runtime.py): the row's sections merged with
# ../_base_/nuclei_cpu_sizing.py, its test pipeline's Resize swapped for the 2x upscaling.
globals().update(import_modules_from_strings("mmdet_evonorm.sizing").nuclei_cpu_sections(globals()))

# The quickstart's own schedule: 400 iterations, 50 of warm-up, cosine.
max_iters = 400
train_cfg.merge(dict(max_iters=max_iters, val_interval=max_iters))
default_hooks.checkpoint.interval = max_iters
param_scheduler = [
    dict(type="LinearLR", start_factor=0.01, by_epoch=False, begin=0, end=50),
    dict(type="CosineAnnealingLR", by_epoch=False, begin=50, end=max_iters, eta_min=1e-4),
]
