# Seed row B5, "1) x2": B4 trained twice as long (cosine to 240k iterations).
_base_ = "./mask_rcnn_fpn3_evonorm_cosine_nonlocal_fusion.py"

train_cfg = dict(max_iters=240000)
param_scheduler = [_base_.warmup, dict(_base_.cosine, end=240000)]
