"""BatchNorm that normalises with the statistics of its own input at test time too.

Wu & Johnson, "Rethinking 'Batch' in BatchNorm" (arXiv 2105.07576), Sec. 5 and
Table 6: BN in a detector's RoI heads trained per GPU on RoIs of the same images is
inconsistent between training (mini-batch statistics of correlated RoIs) and test
(population statistics). Using mini-batch statistics at test as well removes the
inconsistency (detectron2
``projects/Rethinking-BatchNorm/configs/mask_rcnn_BNhead_batch_stats.py``)::

    training (unchanged):  y = (x - mean_B(x)) / sqrt(var_B(x) + eps) * w + b,  EMA updated
    eval, >= 2 values/ch:  the same, with the statistics of the RoIs at hand; no EMA update
    eval, < 2 values/ch:   running (EMA) statistics   (zero RoIs; one RoI into a 1-D BN)

``x`` is [N, C, *]: the statistics are per channel over N and all trailing dims (a
7x7 RoI feature map gives 49 values per RoI). The parameters and buffers are those of
``nn.BatchNorm2d`` (same state-dict keys), so a checkpoint trained with ``BN`` loads.
"""

from __future__ import annotations

import torch.nn.functional as F
from mmengine.registry import MODELS
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm


@MODELS.register_module("BatchStatsBN")
class BatchStatsBN(_BatchNorm):
    """BN with batch statistics in eval mode as well; any input of 2 or more dims.

    Usable as ``norm_cfg=dict(type='BatchStatsBN')``; :func:`convert_to_batch_stats`
    turns the BN layers of a built module into it (what
    ``test_cfg.rcnn.bn_stats='batch'`` does to the RoI heads).
    """

    _abbr_ = "bn"

    def _check_input_dim(self, input: Tensor) -> None:
        if input.dim() < 2:
            raise ValueError(f"BatchStatsBN: expected 2 or more input dims, got {input.dim()}")

    def forward(self, input: Tensor) -> Tensor:
        if self.training or input.numel() < 2 * self.num_features:
            return super().forward(input)
        self._check_input_dim(input)
        return F.batch_norm(input, None, None, self.weight, self.bias, True, 0.0, self.eps)


def convert_to_batch_stats(module: nn.Module) -> nn.Module:
    """Replace every ``_BatchNorm`` under ``module`` by a :class:`BatchStatsBN` sharing
    its parameters and buffers (in place; returns ``module``, or the new layer when
    ``module`` is itself a BN layer), as ``nn.SyncBatchNorm.convert_sync_batchnorm`` does."""
    if isinstance(module, _BatchNorm) and not isinstance(module, BatchStatsBN):
        new = BatchStatsBN(
            module.num_features, module.eps, module.momentum, module.affine,
            module.track_running_stats,
        )  # fmt: skip
        new.weight, new.bias = module.weight, module.bias
        new.running_mean, new.running_var = module.running_mean, module.running_var
        new.num_batches_tracked = module.num_batches_tracked
        new.train(module.training)
        return new
    for name, child in module.named_children():
        converted = convert_to_batch_stats(child)
        if converted is not child:
            setattr(module, name, converted)
    return module
