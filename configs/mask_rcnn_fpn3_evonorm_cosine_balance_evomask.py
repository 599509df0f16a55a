# Seed row B6, "2)": B2 (cosine + EvoNorm-S0 mask head) + Balance stage after the FPN
# (gather to P4, 3x3 conv + EvoNorm-S0, scatter back as a residual); RPN and RoIs read it.
_base_ = "./mask_rcnn_fpn3_evonorm_cosine_evomask.py"

model = dict(neck=[_base_.model.neck, dict(type="BalanceStage", in_channels=256, refine_level=1)])
