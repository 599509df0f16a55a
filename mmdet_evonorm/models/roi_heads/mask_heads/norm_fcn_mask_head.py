"""FCN mask head with a norm after the deconv too (object_detection2).

Semantics: docs/original.md, "Mask head".

``MaskRCNNConvUpsampleHead`` of vghost2008/wml1
(``object_detection2/modeling/roi_heads/mask_head.py`` @911cd7b)::

    (N, C, S, S) -> num_convs x [3x3 conv -> norm -> act]
                 -> 2x2 stride-2 deconv (no bias) -> norm -> act   (N, D, 2S, 2S)
                 -> 1x1 conv -> (N, num_classes, 2S, 2S) logits

FPN rows: S = 14, 4 convs, 28x28 masks. "C3" rows: the 7x7x2048 output of the
shared res5 head, 0 (or 4) convs, 14x14 masks. Norm/act are BN + ReLU in the "BN"
rows and EvoNorm-S0 + none in the "EvoNorm mask head" rows.

Gaps of mmdet's ``FCNMaskHead`` (3.3.0) filled here: its
convs always end in ReLU, its deconv is followed by a bare ReLU with no norm, and
it forbids ``init_cfg`` and starts every layer Kaiming-normal, where the original
(TF-slim's default; docs/original.md, "RoI sampling and initialisation") is
Xavier-uniform with zero bias everywhere.
Soft (non-binarised) mask targets need no code: mmdet reads
``train_cfg.rcnn.soft_mask_target=True``.
"""

from __future__ import annotations

import copy

from mmcv.cnn import ConvModule
from mmdet.models.roi_heads.mask_heads import FCNMaskHead
from mmdet.registry import MODELS
from mmdet.utils import OptConfigType, OptMultiConfig
from mmengine.model import ModuleList, initialize
from torch import Tensor

from ...default_cfgs import RELU, XAVIER_CONV_DECONV_INIT
from ...layers import act_cfg_after_norm


@MODELS.register_module()
class NormFCNMaskHead(FCNMaskHead):
    """``FCNMaskHead`` with ``act_cfg`` and ``norm_cfg`` also after the deconv.

    Args:
        act_cfg: Activation after every norm (convs and deconv); none after
            EvoNorm-S0 (``act_cfg_after_norm``).
        init_cfg: Applied by :meth:`init_weights` after ``FCNMaskHead``'s and
            ``ConvModule``'s own Kaiming initialisation, so it has the last word.
            Defaults to Xavier-uniform convs and deconv with zero bias (the
            original's); None keeps mmdet's Kaiming initialisation.
        *args, **kwargs: ``FCNMaskHead`` arguments (``num_convs``,
            ``in_channels``, ``conv_out_channels``, ``norm_cfg``,
            ``upsample_cfg``, ``num_classes``, ...). With a non-learnable
            upsample ('nearest', 'bilinear') nothing follows the upsampling, as
            in ``FCNMaskHead``.
    """

    def __init__(
        self,
        *args,
        act_cfg: OptConfigType = RELU,
        init_cfg: OptMultiConfig = XAVIER_CONV_DECONV_INIT,
        **kwargs,
    ) -> None:
        super().__init__(*args, **kwargs)  # FCNMaskHead asserts init_cfg is None
        self.init_cfg = copy.deepcopy(init_cfg)
        self.act_cfg = act_cfg_after_norm(self.norm_cfg, act_cfg)
        # FCNMaskHead built these with a fixed ReLU (and a deconv without norm)
        self.convs = ModuleList(
            self._norm_act_conv(
                self.in_channels if i == 0 else self.conv_out_channels,
                self.conv_kernel_size,
                padding=(self.conv_kernel_size - 1) // 2,
                conv_cfg=self.conv_cfg,
            )
            for i in range(self.num_convs)
        )
        if self.upsample_method == "deconv":
            self.upsample = self._norm_act_conv(
                self.conv_out_channels if self.num_convs else self.in_channels,
                self.scale_factor,
                stride=self.scale_factor,
                conv_cfg=self.upsample_cfg,
            )
        del self.relu  # FCNMaskHead's post-deconv ReLU; now inside ``upsample``

    def init_weights(self) -> None:
        """``FCNMaskHead.init_weights`` (Kaiming), then ``init_cfg`` on top."""
        super().init_weights()
        if self.init_cfg is not None:
            initialize(self, self.init_cfg)

    def _norm_act_conv(self, in_channels: int, kernel_size: int, **kwargs) -> ConvModule:
        return ConvModule(
            in_channels,
            self.conv_out_channels,
            kernel_size,
            norm_cfg=self.norm_cfg,
            act_cfg=self.act_cfg,
            **kwargs,
        )

    def forward(self, x: Tensor) -> Tensor:
        """Mask RoI features (N, C, S, S) -> mask logits (N, num_classes, 2S, 2S)."""
        for conv in self.convs:
            x = conv(x)
        if self.upsample is not None:
            x = self.upsample(x)
        return self.conv_logits(x)
