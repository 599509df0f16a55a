# De-confounding arm: C3 (sephv2, BN heads) with the cosine schedule; vs C3 isolates the
# schedule, vs mask_rcnn_fpn3_sephv2_evonorm_cosine_bnmask.py the box-head norm.
_base_ = "./mask_rcnn_fpn3_sephv2_bn.py"

param_scheduler = [_base_.warmup, _base_.cosine]
