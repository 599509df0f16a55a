# De-confounding arm: B1 with only the schedule changed to cosine (SPEC §7.2).
_base_ = "./mask_rcnn_fpn3_evonorm.py"

param_scheduler = [_base_.warmup, _base_.cosine]
