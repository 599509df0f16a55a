# Seed row B2, "cosine+EvoNormS0 mask head": B1 + cosine + EvoNorm-S0 mask head (no act).
_base_ = "./mask_rcnn_fpn3_evonorm_cosine.py"

# `_delete_` drops the BN-only keys (momentum, eps) of the base's mask-head norm.
model = dict(
    roi_head=dict(mask_head=dict(norm_cfg=dict(_delete_=True, **_base_.evonorm), act_cfg=None))
)
