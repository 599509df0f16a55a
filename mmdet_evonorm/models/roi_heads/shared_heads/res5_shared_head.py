"""Stride-1 res5 block run on every RoI, shared by box and mask branches.

Semantics: docs/original.md, "Res5 shared head".

The "C3" configs of object_detection2 (``Res5ROIHeads`` in vghost2008/wml1
``object_detection2/modeling/roi_heads/roi_heads.py`` @911cd7b) pool one map (P3,
256 ch, or F3, 512 ch) to 7x7 and run a freshly initialised res5 stage on each RoI::

    (N, in_channels, 7, 7) -> Bottleneck(1x1 projection shortcut)
                           -> 2 x Bottleneck          all stride 1, width 512
                           -> (N, 2048, 7, 7)

Its BN is trainable and in training mode (statistics over the RoIs of the batch;
the original's decay 0.999 is ``momentum=0.001`` in PyTorch). In mmdet the box and
mask branches share it like the C4 recipe: ``StandardRoIHead(shared_head=...,
mask_roi_extractor=None)``; the box head averages the 7x7 output
(``with_avg_pool=True``), the mask head upsamples it to 14x14.

Gap of mmdet's ``ResLayer`` shared head: it derives input width and stride from
the ResNet stage (1024 in, stride 2 for ``stage=3``) and freezes BN by default;
this wrapper builds the same stage from ``mmdet.models.layers.ResLayer`` with any
input width, stride 1 and ``norm_eval=False``.
"""

from __future__ import annotations

from mmdet.models.backbones.resnet import Bottleneck
from mmdet.models.layers import ResLayer
from mmdet.registry import MODELS
from mmdet.utils import ConfigType, OptMultiConfig
from mmengine.model import BaseModule
from torch import Tensor
from torch.nn.modules.batchnorm import _BatchNorm

from ...default_cfgs import BN_TRAINABLE, RESNET_INIT


@MODELS.register_module()
class Res5SharedHead(BaseModule):
    """Bottleneck stage on RoI features, stride 1 by default.

    Args:
        in_channels: Width of the RoI features (256 for P3, 512 for F3).
        planes: Bottleneck width; the output has ``4 * planes`` channels.
        num_blocks: Number of bottlenecks.
        stride: Stride of the first bottleneck (1 keeps 7x7 RoIs at 7x7).
        style: 'pytorch' (stride in the 3x3 conv) or 'caffe'.
        norm_cfg: Norm of the bottlenecks; they hard-code ReLU, so use BN/GN.
        norm_eval: Put BN in eval mode during training (the original: False).
        with_cp: Gradient checkpointing of the bottlenecks.
        init_cfg: Defaults to Kaiming convs and unit norms (random init).
    """

    def __init__(
        self,
        in_channels: int = 256,
        planes: int = 512,
        num_blocks: int = 3,
        stride: int = 1,
        style: str = "pytorch",
        norm_cfg: ConfigType = BN_TRAINABLE,
        norm_eval: bool = False,
        with_cp: bool = False,
        init_cfg: OptMultiConfig = RESNET_INIT,
    ) -> None:
        super().__init__(init_cfg=init_cfg)
        self.norm_eval = norm_eval
        self.out_channels = planes * Bottleneck.expansion
        self.res_layer = ResLayer(
            Bottleneck,
            in_channels,
            planes,
            num_blocks,
            stride=stride,
            style=style,
            with_cp=with_cp,
            norm_cfg=norm_cfg,
        )

    def forward(self, x: Tensor) -> Tensor:
        """(N, in_channels, S, S) -> (N, 4 * planes, S / stride, S / stride)."""
        return self.res_layer(x)

    def train(self, mode: bool = True) -> Res5SharedHead:
        """Switch mode; BN stays in eval mode when ``norm_eval`` is True."""
        super().train(mode)
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, _BatchNorm):
                    m.eval()
        return self
