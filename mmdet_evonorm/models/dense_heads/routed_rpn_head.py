"""RPN head that reads a configurable slice of the neck outputs."""

from __future__ import annotations

from collections.abc import Sequence

from mmdet.models.dense_heads import RPNHead
from mmdet.registry import MODELS
from torch import Tensor


@MODELS.register_module()
class RoutedRPNHead(RPNHead):
    """:class:`~mmdet.models.dense_heads.RPNHead` on ``x[start_level:]`` only.

    Gap filled: mmdet's two-stage detectors hand the same neck tuple to the RPN and
    to the RoI head. The RoI head can already take a prefix (``StandardRoIHead``
    passes ``x[:len(featmap_strides)]`` to its extractors), but the RPN always reads
    every map. Rows "use FuseBackbone" and "1)" of object_detection2 need the RPN on
    P3-P6 while box and mask heads pool from F3 only (docs/original.md, "Backbone
    hooks")::

        neck -> (F3, P3, P4, P5, P6)
                 │    └───────────── RoutedRPNHead(start_level=1) -> proposals
                 └── RoI extractors (featmap_strides=[8]) -> box / mask heads

    ``loss``, ``loss_and_predict`` and ``predict`` of the dense head all go through
    :meth:`forward`, so the slice is taken there and nothing else changes.

    Args:
        start_level (int): Index of the first neck output the RPN reads.
            Defaults to 0 (plain ``RPNHead``).
        **kwargs: Arguments of :class:`~mmdet.models.dense_heads.RPNHead`.
    """

    def __init__(self, *args, start_level: int = 0, **kwargs) -> None:
        if start_level < 0:
            raise ValueError(f"start_level must be >= 0, got {start_level}")
        self.start_level = start_level
        super().__init__(*args, **kwargs)

    def forward(self, x: Sequence[Tensor]) -> tuple[list[Tensor], list[Tensor]]:
        """Run :meth:`RPNHead.forward` on ``x[start_level:]``."""
        return super().forward(tuple(x[self.start_level :]))
