# De-confounding arm: C4 with the mask head back on BN + ReLU; vs C4 isolates the
# mask-head norm, vs mask_rcnn_fpn3_sephv2_bn_cosine.py the box-head norm.
_base_ = "./mask_rcnn_fpn3_sephv2_evonorm_cosine.py"

model = dict(
    roi_head=dict(mask_head=dict(norm_cfg=_base_.roi_bn, act_cfg=dict(_delete_=True, type="ReLU")))
)
