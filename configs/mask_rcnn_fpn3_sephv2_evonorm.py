# De-confounding arm: C4 (sephv2, EvoNorm-S0 heads) with the multistep schedule; vs C4
# isolates the schedule.
_base_ = "./mask_rcnn_fpn3_sephv2_evonorm_cosine.py"

param_scheduler = [_base_.warmup, _base_.multistep]
