"""Post-FPN balance stage (``BalanceBackboneHook`` of object_detection2)."""

from __future__ import annotations

from collections.abc import Sequence

from mmdet.registry import MODELS
from mmdet.utils import OptConfigType, OptMultiConfig
from mmengine.model import BaseModule
from torch import Tensor

from ..default_cfgs import EVONORM_S0, XAVIER_CONV_INIT
from .conv_norm_act import conv3x3_norm_act
from .resize import check_resize_mode, mean_resized, resize_bilinear


@MODELS.register_module()
class BalanceStage(BaseModule):
    """Gather all levels at one size, refine the mean, scatter it back as a residual.

    ``BalanceBackboneHook`` of June 2020 (``vghost2008/wml1``,
    ``object_detection2/modeling/backbone/buildin_hooks.py`` @5a83a1a and @59f80c0)::

        P3 ─┐                                              ┌─ P3 + resize(b')
        P4 ─┼─ resize to P4 size ─ mean ─ conv3x3 ─ norm ─ b' ─┼─ P4 + b'
        P5 ─┤                                              ├─ P5 + resize(b')
        P6 ─┘                                              └─ P6 + resize(b')

    Resizing is bilinear both ways, the 3×3 conv has no bias and EvoNorm-S0 is not
    followed by an activation. mmdet's ``BFP`` (Libra R-CNN) follows the same idea
    but gathers with max-pool / nearest and forces a ReLU after its refine conv, so
    it cannot express this stage.

    Args:
        in_channels (int): Channels of every input level (the FPN width).
        refine_level (int): Index of the level whose size is used for the
            refinement. Defaults to 1 (P4 for P3-P6 inputs).
        resize_mode (str): ``'torch_bilinear'`` or ``'tf_legacy_bilinear'`` (the
            original's sampling), see :mod:`.resize`. Defaults to
            ``'torch_bilinear'``.
        norm_cfg (dict, optional): Norm after the conv. Defaults to EvoNorm-S0.
        act_cfg (dict, optional): Activation after the norm. Defaults to None.
        init_cfg (dict or list[dict], optional): Initialisation config. Defaults to
            Xavier-uniform convolutions (TF-slim's default initialiser).
    """

    def __init__(
        self,
        in_channels: int,
        refine_level: int = 1,
        resize_mode: str = "torch_bilinear",
        norm_cfg: OptConfigType = EVONORM_S0,
        act_cfg: OptConfigType = None,
        init_cfg: OptMultiConfig = XAVIER_CONV_INIT,
    ) -> None:
        super().__init__(init_cfg=init_cfg)
        self.in_channels = in_channels
        self.refine_level = refine_level
        self.resize_mode = check_resize_mode(resize_mode)
        self.refine_conv = conv3x3_norm_act(in_channels, in_channels, norm_cfg, act_cfg)

    def forward(self, inputs: Sequence[Tensor]) -> tuple[Tensor, ...]:
        """Return every level plus the refined mean resized to its size."""
        if not 0 <= self.refine_level < len(inputs):
            raise ValueError(f"refine_level={self.refine_level} needs more than {len(inputs)} maps")
        size = inputs[self.refine_level].shape[-2:]
        mean = mean_resized(inputs, size, self.resize_mode)
        refined = self.refine_conv(mean)
        return tuple(x + resize_bilinear(refined, x.shape[-2:], self.resize_mode) for x in inputs)
