"""A config in an unrelated folder inherits a row by its path and overrides something."""

import subprocess
import sys
from pathlib import Path

import mmdet_evonorm

CONFIGS = Path(mmdet_evonorm.__file__).resolve().parents[1] / "configs"

USER_CONFIG = """
_base_ = "{row}"
# an override of the kind another project makes: a longer schedule, another head width
train_cfg = dict(max_iters=180000)
model = dict(roi_head=dict(bbox_head=dict(fc_out_channels=512)))
"""

PROBE = """
import warnings
warnings.filterwarnings("ignore")
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmdet.registry import MODELS
cfg = Config.fromfile("{cfg}")
init_default_scope(cfg.default_scope)
# custom_imports inherited from the row registered the package's modules on parsing
cfg.model.backbone.init_cfg = None
model = MODELS.build(cfg.model)
print(cfg.train_cfg.max_iters, type(model.roi_head.bbox_head).__name__,
      model.roi_head.bbox_head.fc_cls.in_features, type(model.neck).__name__)
"""


def test_unrelated_folder_inherits_a_row(tmp_path):
    row = CONFIGS / "mask_rcnn_fpn3_sephv2_evonorm_cosine.py"
    cfg = tmp_path / "elsewhere" / "my_c4_variant.py"
    cfg.parent.mkdir()
    cfg.write_text(USER_CONFIG.format(row=row))
    # A fresh interpreter started in the unrelated folder: nothing imported beforehand,
    # no sys.path edits, no copied files.
    out = subprocess.run(
        [sys.executable, "-c", PROBE.format(cfg=cfg)],
        cwd=cfg.parent,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert out == ["180000", "SepHV2BBoxHead", "512", "FPN"]
    assert sorted(p.name for p in cfg.parent.iterdir()) == ["my_c4_variant.py"]
