"""Importing the package registers everything; mmcv carries its compiled ops."""

import importlib

import pytest
import torch

EXPECTED = {
    "mmdet.registry.MODELS": [
        "NonLocalStage",
        "FusionStage",
        "BalanceStage",
        "RoutedRPNHead",
        "NormConvFCBBoxHead",
        "Shared2FCGNBBoxHead",
        "SepHBBoxHead",
        "SepHV2BBoxHead",
        "NormFCNMaskHead",
        "Res5SharedHead",
        "ScoreGatedRoIHead",
    ],
    "mmdet.registry.TASK_UTILS": ["GTDrawRandomSampler"],
    "mmengine.registry.MODELS": ["EvoNormS0"],  # root: builds with no default scope
    "mmdet.registry.HOOKS": [
        "SafeCheckpointHook",
        "AtomicCheckpointHook",
        "NonFiniteGuardHook",
        "IterationSeedHook",
    ],
    "mmdet.registry.OPTIM_WRAPPERS": ["NonFiniteGuardOptimWrapper"],
    "mmdet.registry.METRICS": ["FullCocoMetric"],
}


@pytest.mark.parametrize("registry_path", sorted(EXPECTED))
def test_import_registers_every_module(registry_path):
    import mmdet_evonorm

    assert mmdet_evonorm.__version__
    module, _, name = registry_path.rpartition(".")
    registry = getattr(importlib.import_module(module), name)
    for type_name in EXPECTED[registry_path]:
        assert type_name in registry.module_dict, f"{type_name} not in {registry_path}"


def test_mmcv_has_compiled_ops():
    from mmcv.ops import RoIAlign, nms

    importlib.import_module("mmcv._ext")
    boxes = torch.tensor([[0.0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]])
    dets, keep = nms(boxes, torch.tensor([0.9, 0.8, 0.7]), iou_threshold=0.5)
    assert keep.tolist() == [0, 2] and dets.shape == (2, 5)
    feats = torch.arange(16.0).view(1, 1, 4, 4)
    rois = torch.tensor([[0.0, 0, 0, 4, 4]])
    roi_align = RoIAlign(output_size=2, spatial_scale=1.0, sampling_ratio=1, aligned=True)
    # one bilinear sample at each bin centre, e.g. (0.5, 0.5) -> mean of 0, 1, 4, 5 = 2.5
    assert roi_align(feats, rois).flatten().tolist() == [2.5, 4.5, 10.5, 12.5]
