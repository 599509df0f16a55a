# De-confounding arm: C4 (sephv2, EvoNorm-S0 heads) with the multistep schedule; vs C4
# isolates the schedule.
from mmengine.config import read_base

with read_base():
    from .mask_rcnn_fpn3_sephv2_evonorm_cosine import *

param_scheduler = [warmup, multistep]
