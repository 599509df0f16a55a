# De-confounding arm: B1 with only the schedule changed to cosine (configs/README.md, "Why the four arms").
from mmengine.config import read_base

with read_base():
    from .mask_rcnn_fpn3_evonorm import *

param_scheduler = [warmup, cosine]
