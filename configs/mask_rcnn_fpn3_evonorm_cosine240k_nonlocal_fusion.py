# Seed row B5, "1) x2": B4 trained twice as long (cosine to 240k iterations).
from mmengine.config import read_base

with read_base():
    from .mask_rcnn_fpn3_evonorm_cosine_nonlocal_fusion import *

train_cfg.max_iters = 240000
param_scheduler = [warmup, dict(cosine, end=240000)]
