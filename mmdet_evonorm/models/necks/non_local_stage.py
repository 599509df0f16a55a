"""Pre-FPN non-local stage (``NonLocalBackboneHook`` of object_detection2)."""

from __future__ import annotations

from collections.abc import Sequence

from mmdet.registry import MODELS
from mmdet.utils import OptConfigType, OptMultiConfig
from mmengine.model import BaseModule
from torch import Tensor, nn

from ..default_cfgs import GN_32, RELU, XAVIER_CONV_INIT
from .non_local_block import GatedNonLocalBlock


@MODELS.register_module()
class NonLocalStage(BaseModule):
    """Apply a :class:`GatedNonLocalBlock` to selected backbone levels.

    The June-2020 ``NonLocalBackboneHook`` (``vghost2008/wml1``,
    ``object_detection2/modeling/backbone/buildin_hooks.py`` @3929468, unchanged
    until 2020-10-30) ran before the FPN and replaced C4 and C5 by
    ``non_local_blockv1(x, normalizer=GroupNorm(32))``; finer levels passed through.
    Place it first in a neck list so the FPN laterals (and an ``'on_input'`` P6
    conv) read the enhanced maps::

        neck=[dict(type='NonLocalStage', in_channels=[512, 1024, 2048]),
              dict(type='FPN', in_channels=[512, 1024, 2048], ...)]

        C3 ───────────────────────> C3
        C4 ── non-local block ────> C4'
        C5 ── non-local block ────> C5'

    Each block stores an (H·W)² attention matrix per image (see
    :class:`GatedNonLocalBlock`), so keep it off fine levels.

    Args:
        in_channels (Sequence[int]): Channels of every input level.
        in_indices (Sequence[int]): Levels that get a block; negative values count
            from the coarsest. Defaults to the two coarsest, ``(-2, -1)``.
        qk_ratio (int): C divided by the Q/K width. Defaults to 8.
        v_ratio (int): C divided by the V width. Defaults to 2.
        norm_cfg (dict, optional): Norm inside each block. Defaults to GN with 32
            groups (the original).
        act_cfg (dict, optional): Activation inside each block. Defaults to ReLU.
        init_cfg (dict or list[dict], optional): Initialisation config. Defaults to
            Xavier-uniform convolutions (TF-slim's default initialiser).
    """

    def __init__(
        self,
        in_channels: Sequence[int],
        in_indices: Sequence[int] = (-2, -1),
        qk_ratio: int = 8,
        v_ratio: int = 2,
        norm_cfg: OptConfigType = GN_32,
        act_cfg: OptConfigType = RELU,
        init_cfg: OptMultiConfig = XAVIER_CONV_INIT,
    ) -> None:
        super().__init__(init_cfg=init_cfg)
        self.in_channels = list(in_channels)
        num_levels = len(self.in_channels)
        if any(not -num_levels <= i < num_levels for i in in_indices):
            raise ValueError(f"in_indices {tuple(in_indices)} out of range for {num_levels} levels")
        self.in_indices = sorted({i % num_levels for i in in_indices})
        self.blocks = nn.ModuleDict(
            {
                str(i): GatedNonLocalBlock(
                    self.in_channels[i],
                    qk_ratio=qk_ratio,
                    v_ratio=v_ratio,
                    norm_cfg=norm_cfg,
                    act_cfg=act_cfg,
                    init_cfg=None,
                )
                for i in self.in_indices
            }
        )

    def forward(self, inputs: Sequence[Tensor]) -> tuple[Tensor, ...]:
        """Return the inputs with the selected levels passed through their block."""
        if len(inputs) != len(self.in_channels):
            raise ValueError(
                f"NonLocalStage expects {len(self.in_channels)} maps, got {len(inputs)}"
            )
        return tuple(
            self.blocks[str(i)](x) if str(i) in self.blocks else x for i, x in enumerate(inputs)
        )
