# Seed row B6, "2)": B2 (cosine + EvoNorm-S0 mask head) + Balance stage after the FPN
# (gather to P4, 3x3 conv + EvoNorm-S0, scatter back as a residual); RPN and RoIs read it.
from mmengine.config import read_base

with read_base():
    from .mask_rcnn_fpn3_evonorm_cosine_evomask import *

# TF1 legacy bilinear resizes both ways, as the original
balance = dict(
    type="BalanceStage", in_channels=256, refine_level=1, resize_mode="tf_legacy_bilinear"
)
model.neck = [model.neck, balance]
