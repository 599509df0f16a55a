# The recipe every ablation row shares (docs/original.md): model, COCO data at 576, the 120k
# iteration schedule and the runtime. Row configs state only their difference.
from mmengine.config import read_base

with read_base():
    from .datasets.coco_instance_576 import *
    from .default_runtime import *
    from .models.mask_rcnn_r50_fpn3_evonorm import *
    from .schedules.iter_120k import *
