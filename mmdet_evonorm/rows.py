"""The seed log's ablation rows: id, log name, config file and the seed's COCO AP.

One table shared by ``tools/summarize.py`` and the tests; ``configs/README.md`` is its
human-readable twin. Seed numbers: COCO val2017 after 120k iterations at 12 images per
iteration (vghost2008/wml1 ``object_detection2/results_coco_2s.md`` @d18b4ff); the arms
have none.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple


class Row(NamedTuple):
    id: str
    log_name: str
    config: str  # file name under configs/
    seed_bbox_ap: float | None
    seed_segm_ap: float | None


ROWS: tuple[Row, ...] = (
    Row("A1", "C3 base line(1)", "mask_rcnn_c3_res5_anchor120.py", 0.235, 0.175),
    Row("A2", "C3 use nolocal", "mask_rcnn_c3_res5_nonlocal.py", 0.274, 0.220),
    Row("A3", "C3 use FuseBackbone", "mask_rcnn_c3_res5_fusion.py", 0.307, 0.241),
    Row("B1", "base line", "mask_rcnn_fpn3_evonorm.py", 0.267, 0.252),
    Row(
        "B2", "cosine+EvoNormS0 mask head", "mask_rcnn_fpn3_evonorm_cosine_evomask.py", 0.285, 0.262
    ),
    Row("B3", "P3output+cosine", "mask_rcnn_fpn3_evonorm_cosine_p3only.py", 0.283, 0.262),
    Row("B4", "1)", "mask_rcnn_fpn3_evonorm_cosine_nonlocal_fusion.py", 0.280, 0.260),
    Row("B5", "1) x2", "mask_rcnn_fpn3_evonorm_cosine240k_nonlocal_fusion.py", 0.285, 0.263),
    Row("B6", "2)", "mask_rcnn_fpn3_evonorm_cosine_balance_evomask.py", 0.293, 0.269),
    Row("C1", "seph+BN", "mask_rcnn_fpn3_seph_bn.py", 0.070, 0.077),
    Row(
        "C2",
        "seph+cosine+EvoNormS0 box head",
        "mask_rcnn_fpn3_seph_evonorm_cosine.py",
        0.296,
        0.270,
    ),
    Row("C3", "sephv2", "mask_rcnn_fpn3_sephv2_bn.py", 0.133, 0.136),
    Row(
        "C4", "sephv2+cosine+EvoNormS head", "mask_rcnn_fpn3_sephv2_evonorm_cosine.py", 0.300, 0.274
    ),
    Row("B1-cosine", "arm: B1 + cosine", "mask_rcnn_fpn3_evonorm_cosine.py", None, None),
    Row("C3-cosine", "arm: C3 + cosine", "mask_rcnn_fpn3_sephv2_bn_cosine.py", None, None),
    Row("C4-multistep", "arm: C4 + multistep", "mask_rcnn_fpn3_sephv2_evonorm.py", None, None),
    Row(
        "C4-bnmask",
        "arm: C4 + BN mask head",
        "mask_rcnn_fpn3_sephv2_evonorm_cosine_bnmask.py",
        None,
        None,
    ),
)
BASELINE = "B1"


def row_for_config(config_stem: str) -> Row | None:
    """The row whose config file is ``<config_stem>.py`` (work dirs are named so)."""
    return next((r for r in ROWS if r.config == f"{config_stem}.py"), None)


def configs_dir() -> Path:
    """``configs/`` of the checkout, else of the installed wheel (``mmdet_evonorm/configs``)."""
    package = Path(__file__).resolve().parent
    checkout = package.parent / "configs"
    return checkout if (checkout / ROWS[0].config).is_file() else package / "configs"
