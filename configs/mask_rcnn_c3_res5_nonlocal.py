# Seed row A2, C3 "use nolocal" (Mask-RCNN-FPN-C3-2.yaml@f42944f): Res5 RoI head on P3
# with the June-2020 NonLocal block on C4 and C5 before the FPN.
from mmengine.config import read_base

with read_base():
    from ._base_.recipe_c3_res5 import *

model.neck = [dict(type="NonLocalStage", in_channels=[512, 1024, 2048]), model.neck]  # C4, C5
