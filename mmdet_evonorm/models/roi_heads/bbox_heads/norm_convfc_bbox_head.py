"""Conv/FC box heads with a norm (and an optional activation) after every layer.

One class covers the three box heads of the object_detection2 Mask R-CNN ablations
(vghost2008/wml1 ``object_detection2/modeling/roi_heads/box_head.py`` @911cd7b;
docs/original.md, "Box heads"): ``FastRCNNConvFCHead`` (the "baseline": 2 FC, each FC -> GN ->
ReLU), ``SeparateFastRCNNConvFCHead`` ("seph") and
``SeparateFastRCNNConvFCHeadV2`` ("sephv2"). Branch layout as in mmdet's
``ConvFCBBoxHead``::

                                 /-> cls convs -> [flatten] -> cls fcs -> fc_cls
    shared convs -> shared fcs -<
                                 \\-> reg convs -> [flatten] -> reg fcs -> fc_reg

    every conv: 3x3, no bias -> norm -> act      (N, C, 7, 7) -> (N, conv_out, 7, 7)
    every fc:   linear, no bias -> norm -> act   (N, D) -> (N, fc_out)
    flatten:    (N, C, 7, 7) -> (N, C * 49)      (global average with with_avg_pool)

Gaps of mmdet 3.3.0's ``ConvFCBBoxHead`` filled here: it always puts a ReLU
after a conv's norm and never normalises an FC. Here every conv and FC is built
with ``norm_cfg`` (mmcv's 'BN', a ``BatchNorm2d``, becomes 'BN1d' on the FCs;
EvoNorm-S0 takes the 2-D input as is) and ``act_cfg``, which is dropped after
EvoNorm-S0 (``act_cfg_after_norm``: it is its own non-linearity). All convs and
linears, the two predictors included, start Xavier-uniform with zero bias (TF-slim's
default; docs/original.md, "RoI sampling and initialisation").
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from mmcv.cnn import build_activation_layer, build_conv_layer, build_norm_layer
from mmdet.models.roi_heads.bbox_heads import BBoxHead
from mmdet.registry import MODELS
from mmdet.utils import ConfigType, OptConfigType, OptMultiConfig
from torch import Tensor, nn

from ...default_cfgs import EVONORM_S0, GN_32, RELU, XAVIER_INIT
from ...layers import act_cfg_after_norm
from .top1_per_proposal import Top1PerProposalMixin

# mmcv's 'BN' is BatchNorm2d and rejects (N, C) input.
_FC_NORM_TYPE = {"BN": "BN1d", "BN2d": "BN1d"}
# Score-gated inference also regresses RoIs this far below the threshold, so float
# rounding between two softmaxes of the same logits can never drop a detection.
_GATE_MARGIN = 1e-6


def _with_norm_act(
    kind: str, layer: nn.Module, channels: int, norm_cfg: OptConfigType, act_cfg: OptConfigType
) -> nn.Sequential:
    """``layer -> norm -> act`` as a Sequential named ``kind``, <norm abbr>, 'act'."""
    modules = [(kind, layer)]
    if norm_cfg is not None:
        modules.append(build_norm_layer(norm_cfg, channels))
    if act_cfg is not None:
        modules.append(("act", build_activation_layer(act_cfg)))
    return nn.Sequential(OrderedDict(modules))


@MODELS.register_module()
class NormConvFCBBoxHead(Top1PerProposalMixin, BBoxHead):
    """Box head whose convs and FCs are all followed by ``norm_cfg`` and ``act_cfg``.

    Args:
        num_shared_convs / num_shared_fcs / num_cls_convs / num_cls_fcs /
        num_reg_convs / num_reg_fcs: Layers per branch (all may be 0: then the
            head is mmdet's ``BBoxHead`` plus this init and top-1 inference). A
            conv cannot follow an FC, so shared FCs exclude cls/reg convs.
        conv_out_channels: Width of every 3x3 conv.
        fc_out_channels: Width of every hidden FC.
        conv_cfg: Conv layer config (None = ``nn.Conv2d``).
        norm_cfg: Norm after every conv and FC (None = no norm, biases kept).
        act_cfg: Activation after every norm; none after EvoNorm-S0.
        init_cfg: Defaults to Xavier-uniform / zero bias on all convs and linears.
        **kwargs: ``BBoxHead`` arguments (``in_channels``, ``roi_feat_size``,
            ``num_classes``, ``with_avg_pool``, losses, coder, ...).

    Inference keeps one class per proposal when ``test_cfg.rcnn.top1_per_proposal``
    is True (:class:`Top1PerProposalMixin`). Under :meth:`score_gated` (which
    :class:`ScoreGatedRoIHead` uses at test time) the regression branch runs only
    on RoIs that can pass the score threshold: the same detections, less work
    for heads with a regression tower (seph, sephv2).
    """

    def __init__(
        self,
        num_shared_convs: int = 0,
        num_shared_fcs: int = 0,
        num_cls_convs: int = 0,
        num_cls_fcs: int = 0,
        num_reg_convs: int = 0,
        num_reg_fcs: int = 0,
        conv_out_channels: int = 256,
        fc_out_channels: int = 1024,
        conv_cfg: OptConfigType = None,
        norm_cfg: OptConfigType = None,
        act_cfg: OptConfigType = RELU,
        init_cfg: OptMultiConfig = XAVIER_INIT,
        **kwargs,
    ) -> None:
        super().__init__(init_cfg=init_cfg, **kwargs)
        name = type(self).__name__
        if num_shared_fcs and (num_cls_convs or num_reg_convs):
            raise ValueError(f"{name}: cls/reg convs cannot follow shared FCs")
        if (num_cls_convs or num_cls_fcs) and not self.with_cls:
            raise ValueError(f"{name}: cls layers need with_cls=True")
        if (num_reg_convs or num_reg_fcs) and not self.with_reg:
            raise ValueError(f"{name}: reg layers need with_reg=True")
        self.conv_out_channels = conv_out_channels
        self.fc_out_channels = fc_out_channels
        self._score_gate: float | None = None  # set by score_gated()
        self.conv_cfg = conv_cfg
        self.norm_cfg = norm_cfg
        self.act_cfg = act_cfg_after_norm(norm_cfg, act_cfg)

        self.shared_convs, self.shared_fcs, shared_dim = self._add_branch(
            num_shared_convs, num_shared_fcs, self.in_channels, spatial=True, final=False
        )
        spatial = num_shared_fcs == 0
        self.cls_convs, self.cls_fcs, cls_dim = self._add_branch(
            num_cls_convs, num_cls_fcs, shared_dim, spatial, final=True
        )
        self.reg_convs, self.reg_fcs, reg_dim = self._add_branch(
            num_reg_convs, num_reg_fcs, shared_dim, spatial, final=True
        )
        if self.with_cls:
            self.fc_cls = self._resized(self.fc_cls, self.cls_predictor_cfg, cls_dim)
        if self.with_reg:
            self.fc_reg = self._resized(self.fc_reg, self.reg_predictor_cfg, reg_dim)

    def _add_branch(
        self, num_convs: int, num_fcs: int, in_dim: int, spatial: bool, final: bool
    ) -> tuple[nn.ModuleList, nn.ModuleList, int]:
        """Build one branch; returns its convs, its FCs and its output width.

        ``in_dim`` is a channel count if ``spatial`` else a vector length. The
        branch flattens its input if FCs follow or if it is a final branch.
        """
        convs = nn.ModuleList()
        for i in range(num_convs):
            convs.append(self._conv_block(in_dim if i == 0 else self.conv_out_channels))
        dim = self.conv_out_channels if num_convs else in_dim
        if spatial and (num_fcs or final):
            dim *= 1 if self.with_avg_pool else self.roi_feat_area
        fcs = nn.ModuleList()
        for i in range(num_fcs):
            fcs.append(self._fc_block(dim if i == 0 else self.fc_out_channels))
        return convs, fcs, self.fc_out_channels if num_fcs else dim

    def _conv_block(self, in_channels: int) -> nn.Sequential:
        out = self.conv_out_channels
        conv = build_conv_layer(
            self.conv_cfg, in_channels, out, 3, padding=1, bias=self.norm_cfg is None
        )
        return _with_norm_act("conv", conv, out, self.norm_cfg, self.act_cfg)

    def _fc_block(self, in_features: int) -> nn.Sequential:
        out = self.fc_out_channels
        fc = nn.Linear(in_features, out, bias=self.norm_cfg is None)
        norm_cfg = self.norm_cfg
        if norm_cfg is not None and norm_cfg["type"] in _FC_NORM_TYPE:
            norm_cfg = dict(norm_cfg, type=_FC_NORM_TYPE[norm_cfg["type"]])
        return _with_norm_act("fc", fc, out, norm_cfg, self.act_cfg)

    @staticmethod
    def _resized(predictor: nn.Module, cfg: ConfigType, in_features: int) -> nn.Module:
        """Rebuild a predictor of ``BBoxHead`` for a new input width."""
        if predictor.in_features == in_features:
            return predictor
        return MODELS.build(dict(cfg, in_features=in_features, out_features=predictor.out_features))

    def _forward_branch(
        self, x: Tensor, convs: nn.ModuleList, fcs: nn.ModuleList, final: bool
    ) -> Tensor:
        for conv in convs:
            x = conv(x)
        if x.dim() > 2 and (len(fcs) or final):
            x = torch.flatten(self.avg_pool(x) if self.with_avg_pool else x, 1)
        for fc in fcs:
            x = fc(x)
        return x

    def forward(self, x: Tensor) -> tuple[Tensor | None, Tensor | None]:
        """RoI features (N, in_channels, S, S) -> cls scores, box deltas.

        Returns:
            ``cls_score`` (N, num_classes + 1) and ``bbox_pred``
            (N, 4 * num_classes), or None for a branch that is switched off.
        """
        x = self._forward_branch(x, self.shared_convs, self.shared_fcs, final=False)
        cls_score = bbox_pred = None
        if self.with_cls:
            x_cls = self._forward_branch(x, self.cls_convs, self.cls_fcs, final=True)
            cls_score = self.fc_cls(x_cls)
        if self.with_reg:
            if self._score_gate is not None and cls_score is not None and not self.training:
                bbox_pred = self._gated_bbox_pred(x, cls_score, self._score_gate)
            else:
                x_reg = self._forward_branch(x, self.reg_convs, self.reg_fcs, final=True)
                bbox_pred = self.fc_reg(x_reg)
        return cls_score, bbox_pred

    @contextmanager
    def score_gated(self, score_thr: float) -> Iterator[None]:
        """Inside this context, eval-mode :meth:`forward` computes box deltas only for
        RoIs that can pass ``score_thr`` (see :class:`ScoreGatedRoIHead`).

        mmdet's ``multiclass_nms`` (and the top-1 path) keeps a (RoI, class) pair
        only if its softmax score is ``> score_thr``, so a RoI whose best foreground
        score is ``<= score_thr`` yields no detection and its deltas are never read.
        Its regression branch is skipped and its deltas are left at 0; the
        classification branch still runs on every RoI.
        """
        self._score_gate = score_thr
        try:
            yield
        finally:
            self._score_gate = None

    def _gated_bbox_pred(self, x: Tensor, cls_score: Tensor, score_thr: float) -> Tensor:
        """Box deltas of the RoIs whose best foreground score can pass ``score_thr``
        (with a margin for rounding between this softmax and mmdet's), zeros elsewhere."""
        if self.custom_cls_channels:
            scores = self.loss_cls.get_activation(cls_score)
        else:  # BBoxHead._predict_by_feat_single's scores
            scores = F.softmax(cls_score, dim=-1)
        live = scores[:, :-1].amax(dim=1) > score_thr - _GATE_MARGIN
        bbox_pred = cls_score.new_zeros(len(cls_score), self.fc_reg.out_features)
        if live.any():
            x_reg = self._forward_branch(x[live], self.reg_convs, self.reg_fcs, final=True)
            bbox_pred[live] = self.fc_reg(x_reg).to(bbox_pred.dtype)
        return bbox_pred


@MODELS.register_module()
class Shared2FCGNBBoxHead(NormConvFCBBoxHead):
    """Baseline box head: 2 shared FC -> GroupNorm(32) -> ReLU (docs/original.md, "Box heads").

    The original ``FastRCNNConvFCHead`` ignores ``ROI_BOX_HEAD.NORM`` and always
    runs ``flatten -> FC1024 (no bias) -> GN(32, eps 1e-5) -> ReLU -> FC1024 ->
    GN -> ReLU``; these are the defaults here. Unlike mmdet's
    ``Shared2FCBBoxHead``, the FCs are normalised. Other arguments: see
    :class:`NormConvFCBBoxHead`.
    """

    def __init__(self, norm_cfg: OptConfigType = GN_32, **kwargs) -> None:
        super().__init__(num_shared_fcs=2, norm_cfg=norm_cfg, **kwargs)


@MODELS.register_module()
class SepHBBoxHead(NormConvFCBBoxHead):
    """ "seph": two independent 4-conv towers, no FC (docs/original.md, "Box heads").

    ``cls: 4 x [3x3 conv (no bias) -> norm -> act] -> flatten -> fc_cls``, the same
    for ``reg``. The default norm is EvoNorm-S0 without activation (the committed
    config). The BN row is ``norm_cfg=dict(type='BN', momentum=0.003, eps=1e-4)``
    with the default ReLU, or ``act_cfg=None`` (the original's choice is unknown);
    its BN normalises over all RoIs of the batch in training. Other arguments: see
    :class:`NormConvFCBBoxHead`.
    """

    def __init__(self, norm_cfg: OptConfigType = EVONORM_S0, **kwargs) -> None:
        super().__init__(num_cls_convs=4, num_reg_convs=4, norm_cfg=norm_cfg, **kwargs)


@MODELS.register_module()
class SepHV2BBoxHead(NormConvFCBBoxHead):
    """ "sephv2": classification 2 FC, regression 4 convs, nothing shared (docs/original.md).

    ``cls: flatten -> 2 x [FC (no bias) -> norm -> act] -> fc_cls``;
    ``reg: 4 x [3x3 conv (no bias) -> norm -> act] -> flatten -> fc_reg``: the task
    split of Double-Head R-CNN (Wu et al., CVPR 2020) with plain convs, flattening
    and norms on the FCs. The default norm is EvoNorm-S0 (2-D on the FCs) without
    activation; the BN row as in :class:`SepHBBoxHead`.
    """

    def __init__(self, norm_cfg: OptConfigType = EVONORM_S0, **kwargs) -> None:
        super().__init__(num_cls_fcs=2, num_reg_convs=4, norm_cfg=norm_cfg, **kwargs)
