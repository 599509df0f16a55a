"""Default layer configs shared by the neck stages (the original's choices).

Module-level dicts are used as argument defaults; mmcv builders copy them, so they
are never mutated.
"""

EVONORM_S0 = dict(type="EvoNormS0")
GN_32 = dict(type="GN", num_groups=32, eps=1e-5)
RELU = dict(type="ReLU")
XAVIER_CONV_INIT = dict(type="Xavier", layer="Conv2d", distribution="uniform")
