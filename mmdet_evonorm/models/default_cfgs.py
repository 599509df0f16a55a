"""Default layer configs shared by the necks and RoI heads (the original's choices).

Module-level dicts are used as argument defaults; the modules and mmcv's builders copy
them, so they are never mutated.
"""

EVONORM_S0 = dict(type="EvoNormS0")
GN_32 = dict(type="GN", num_groups=32, eps=1e-5)
BN_TRAINABLE = dict(type="BN", requires_grad=True)
RELU = dict(type="ReLU")
# TF-slim's default initialiser: Xavier-uniform weights, zero bias.
XAVIER_CONV_INIT = dict(type="Xavier", layer="Conv2d", distribution="uniform")
XAVIER_INIT = dict(type="Xavier", distribution="uniform", layer=["Conv2d", "Linear"], bias=0)
XAVIER_CONV_DECONV_INIT = dict(
    type="Xavier", distribution="uniform", layer=["Conv2d", "ConvTranspose2d"], bias=0
)
RESNET_INIT = [
    dict(type="Kaiming", layer="Conv2d"),
    dict(type="Constant", val=1, layer=["_BatchNorm", "GroupNorm"]),
]
