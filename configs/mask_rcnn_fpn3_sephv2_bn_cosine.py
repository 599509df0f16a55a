# De-confounding arm: C3 (sephv2, BN heads) with the cosine schedule; vs C3 isolates the
# schedule, vs mask_rcnn_fpn3_sephv2_evonorm_cosine_bnmask.py the box-head norm.
from mmengine.config import read_base

with read_base():
    from .mask_rcnn_fpn3_sephv2_bn import *

param_scheduler = [warmup, cosine]
