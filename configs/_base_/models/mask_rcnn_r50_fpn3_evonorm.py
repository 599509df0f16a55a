# Mask R-CNN "FPN-3" of object_detection2 (docs/original.md) in mmdet terms:
# ResNet-50 C3-C5 -> FPN P3-P6 with EvoNorm-S0 on the output convs (no activation),
# RPN with GIoU on P3-P6, RoIs from P3-P6 (finest_scale=112 = canonical 224 @ P4),
# box head 2FC+GN(32)+ReLU, mask head 4 conv + deconv with BN+ReLU after each.
# Heads start Xavier-uniform with zero bias (TF-slim's default): the RPN by
# its init_cfg below (mmdet's default is normal, std 0.01), box and mask heads by theirs.
xavier_conv = dict(type="Xavier", layer="Conv2d", distribution="uniform", bias=0)
evonorm = dict(type="EvoNormS0")
# BN of the RoI heads: TF decay 0.997 (= momentum 0.003), eps 1e-4, batch statistics.
roi_bn = dict(type="BN", momentum=0.003, eps=1e-4, requires_grad=True)
model = dict(
    type="MaskRCNN",
    data_preprocessor=dict(
        type="DetDataPreprocessor",
        # RGB mean of the original; std of the torchvision weights (see configs/README.md).
        mean=[123.68, 116.779, 103.939],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_mask=True,
        pad_size_divisor=32,
    ),
    backbone=dict(
        type="ResNet",
        depth=50,
        num_stages=4,
        out_indices=(1, 2, 3),
        frozen_stages=-1,
        norm_cfg=dict(type="BN", requires_grad=True),
        norm_eval=True,
        style="pytorch",
        init_cfg=dict(type="Pretrained", checkpoint="torchvision://resnet50"),
    ),
    neck=dict(
        type="FPN",
        in_channels=[512, 1024, 2048],
        out_channels=256,
        num_outs=4,
        add_extra_convs="on_input",
        no_norm_on_lateral=True,
        norm_cfg=evonorm,
        act_cfg=None,
        # TF "SAME" padding: the stride-2 P6 conv pads an even C5 by 0 / 1, not 1 / 1
        # (stride-1 convs are unchanged); mmcv's TF-style conv.
        conv_cfg=dict(type="Conv2dAdaptivePadding"),
    ),
    rpn_head=dict(
        type="RPNHead",
        in_channels=256,
        feat_channels=256,
        init_cfg=xavier_conv,
        anchor_generator=dict(
            type="AnchorGenerator", scales=[8], ratios=[0.5, 1.0, 2.0], strides=[8, 16, 32, 64]
        ),
        bbox_coder=dict(
            type="DeltaXYWHBBoxCoder",
            target_means=[0.0, 0.0, 0.0, 0.0],
            target_stds=[0.1, 0.1, 0.2, 0.2],
        ),
        reg_decoded_bbox=True,
        loss_cls=dict(type="CrossEntropyLoss", use_sigmoid=True, loss_weight=1.0),
        loss_bbox=dict(type="GIoULoss", loss_weight=1.0),
    ),
    roi_head=dict(
        # StandardRoIHead whose test-time box regression skips RoIs that cannot pass
        # score_thr (same detections, the sephv2 tower's cost cut).
        type="ScoreGatedRoIHead",
        bbox_roi_extractor=dict(
            type="SingleRoIExtractor",
            roi_layer=dict(type="RoIAlign", output_size=7, sampling_ratio=0),
            out_channels=256,
            featmap_strides=[8, 16, 32, 64],
            finest_scale=112,
        ),
        bbox_head=dict(
            type="Shared2FCGNBBoxHead",
            in_channels=256,
            fc_out_channels=1024,
            roi_feat_size=7,
            num_classes=80,
            bbox_coder=dict(
                type="DeltaXYWHBBoxCoder",
                target_means=[0.0, 0.0, 0.0, 0.0],
                target_stds=[0.1, 0.1, 0.2, 0.2],
            ),
            reg_class_agnostic=False,
            loss_cls=dict(type="CrossEntropyLoss", use_sigmoid=False, loss_weight=1.0),
            loss_bbox=dict(type="SmoothL1Loss", beta=1.0, loss_weight=1.0),
        ),
        mask_roi_extractor=dict(
            type="SingleRoIExtractor",
            roi_layer=dict(type="RoIAlign", output_size=14, sampling_ratio=0),
            out_channels=256,
            featmap_strides=[8, 16, 32, 64],
            finest_scale=112,
        ),
        mask_head=dict(
            type="NormFCNMaskHead",
            num_convs=4,
            in_channels=256,
            conv_out_channels=256,
            num_classes=80,
            norm_cfg=roi_bn,
            act_cfg=dict(type="ReLU"),
            loss_mask=dict(type="CrossEntropyLoss", use_mask=True, loss_weight=1.0),
        ),
    ),
    train_cfg=dict(
        rpn=dict(
            assigner=dict(
                type="MaxIoUAssigner",
                pos_iou_thr=0.5,
                neg_iou_thr=0.4,
                min_pos_iou=0.3,
                match_low_quality=True,
                ignore_iof_thr=-1,
            ),
            sampler=dict(
                type="RandomSampler",
                num=256,
                pos_fraction=0.5,
                neg_pos_ub=-1,
                add_gt_as_proposals=False,
            ),
            allowed_border=-1,
            pos_weight=-1,
            debug=False,
        ),
        rpn_proposal=dict(
            nms_pre=6000, max_per_img=1000, nms=dict(type="nms", iou_threshold=0.7), min_bbox_size=0
        ),
        rcnn=dict(
            assigner=dict(
                type="MaxIoUAssigner",
                pos_iou_thr=0.5,
                neg_iou_thr=0.5,
                min_pos_iou=0.5,
                match_low_quality=False,
                ignore_iof_thr=-1,
            ),
            # RandomSampler + 16 GT boxes per image drawn with replacement
            sampler=dict(
                type="GTDrawRandomSampler",
                num=128,
                pos_fraction=0.25,
                neg_pos_ub=-1,
                add_gt_as_proposals=True,
                num_gt_proposals=16,
            ),
            mask_size=28,
            # bilinear, non-binarised mask targets
            soft_mask_target=True,
            pos_weight=-1,
            debug=False,
        ),
    ),
    test_cfg=dict(
        rpn=dict(
            nms_pre=6000, max_per_img=1000, nms=dict(type="nms", iou_threshold=0.7), min_bbox_size=0
        ),
        rcnn=dict(
            score_thr=0.05,
            nms=dict(type="nms", iou_threshold=0.5),
            max_per_img=100,
            mask_thr_binary=0.5,
        ),
    ),
)
