"""Default layer configs of the RoI heads (the original's choices, SPEC.md §4).

Module-level dicts are used as argument defaults; the heads and the mmcv builders
copy them, so they are never mutated.
"""

BN_TRAINABLE = dict(type="BN", requires_grad=True)
EVONORM_S0 = dict(type="EvoNormS0")
GN_32 = dict(type="GN", num_groups=32, eps=1e-5)
RELU = dict(type="ReLU")
XAVIER_INIT = dict(type="Xavier", distribution="uniform", layer=["Conv2d", "Linear"], bias=0)
RESNET_INIT = [
    dict(type="Kaiming", layer="Conv2d"),
    dict(type="Constant", val=1, layer=["_BatchNorm", "GroupNorm"]),
]
