"""The wheel ships every row config; another project composes a row from a plain install.

The wheel is built from a copy of the source tree (nothing is written into the
checkout) and installed non-editable, without dependencies, into a folder
(``pip install --no-deps --target``). A fresh interpreter started in a folder outside
the repository, with that folder first on ``PYTHONPATH``, then sees mmdet_evonorm (code
and configs) only from the wheel and torch, mmcv and mmdet from this environment.
There, configs of "another project" inherit rows the way README.md documents:

    with read_base():
        from mmdet_evonorm.configs.<row> import *
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
#: What the wheel build reads from the checkout.
SOURCES = ("pyproject.toml", "setup.py", "README.md", "mmdet_evonorm", "configs")

#: Another project's config: a C4 variant with a longer schedule and a lower LR.
C4_VARIANT = """
from mmengine.config import read_base

with read_base():
    from mmdet_evonorm.configs.mask_rcnn_fpn3_sephv2_evonorm_cosine import *

train_cfg.max_iters = 180000
optim_wrapper.optimizer.lr = 0.01
"""

#: Another project's config: B1 on a 3-class dataset.
B1_THREE_CLASSES = """
from mmengine.config import read_base

with read_base():
    from mmdet_evonorm.configs.mask_rcnn_fpn3_evonorm import *

model.merge(dict(roi_head=dict(bbox_head=dict(num_classes=3), mask_head=dict(num_classes=3))))
"""

#: An old-style config cannot inherit a row by its path (README: use the import form).
OLD_STYLE = """_base_ = "{row}"
"""

MISSING_ROW = """
from mmengine.config import read_base

with read_base():
    from mmdet_evonorm.configs.mask_rcnn_fpn3_nope import *
"""

#: Run in the other project's folder; prints one JSON report.
PROBE = """
import json, sys, warnings
warnings.filterwarnings("ignore")
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.utils import get_installed_path

import mmdet_evonorm
from mmdet_evonorm.testing import build_detector, demo_batch, shrink_for_cpu

rows, source = sys.argv[1].split(","), sys.argv[2]
report = dict(package=mmdet_evonorm.__file__, installed=get_installed_path("mmdet_evonorm"))


def one_loss_step(cfg, num_classes):
    torch.manual_seed(0)
    model = build_detector(shrink_for_cpu(cfg.model))
    optim = build_optim_wrapper(model, cfg.optim_wrapper)
    model.train()
    losses = model.train_step(demo_batch(num_classes=num_classes), optim)
    model.eval()
    rois = torch.tensor([[0.0, 0, 0, 40, 40], [0, 8, 16, 72, 56]])
    with torch.no_grad():
        feats = model.extract_feat(torch.randn(1, 3, 64, 64))
        bbox = model.roi_head._bbox_forward(feats, rois)
        mask = model.roi_head._mask_forward(feats, rois)
    return dict(
        losses={k: float(v) for k, v in losses.items()},
        lr=optim.param_groups[0]["lr"],
        cls=list(bbox["cls_score"].shape),
        reg=list(bbox["bbox_pred"].shape),
        mask=list(mask["mask_preds"].shape),
    )


c4 = Config.fromfile("c4_variant.py")
report["c4"] = dict(
    max_iters=c4.train_cfg.max_iters,
    bbox_head=c4.model.roi_head.bbox_head.type,
    **one_loss_step(c4, num_classes=80),
)
report["b1_three_classes"] = one_loss_step(Config.fromfile("b1_three_classes.py"), 3)
for name in ("missing_row", "old_style"):
    try:
        Config.fromfile(f"{name}.py")
    except Exception as exc:
        report[name] = [type(exc).__name__, str(exc)]
import mmdet_evonorm.configs
report["rows_folder"] = mmdet_evonorm.configs.__path__[0]  # README's path form

# every row by its module name, and equal to the same file read in the source tree
report["differs_from_source"] = []
for row in rows:
    with open("row.py", "w") as f:
        f.write(f"from mmengine.config import read_base\\nwith read_base():\\n"
                f"    from mmdet_evonorm.configs.{row} import *\\n")
    installed = Config.fromfile("row.py").to_dict()
    if installed != Config.fromfile(f"{source}/{row.replace('.', '/')}.py").to_dict():
        report["differs_from_source"].append(row)
print(json.dumps(report))
"""


def readme_rows() -> list[str]:
    """Config file names in configs/README.md's row table."""
    text = (REPO / "configs" / "README.md").read_text()
    return sorted(set(re.findall(r"^\|[^|]*\|[^|]*\| \[\**(\w+\.py)\**\]", text, re.M)))


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """A folder holding the wheel installed non-editable (no dependencies); the source
    copy the wheel was built from is ``../src``."""
    root = tmp_path_factory.mktemp("wheel")
    src = root / "src"
    ignore = shutil.ignore_patterns("__pycache__")
    for name in SOURCES:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, src / name, ignore=ignore)
        else:
            src.mkdir(exist_ok=True)
            shutil.copyfile(REPO / name, src / name)
    pip = [sys.executable, "-m", "pip", "-q", "--disable-pip-version-check"]
    wheel_dir, site = root / "dist", root / "site"

    def run(*args) -> None:
        subprocess.run([*pip, *map(str, args)], check=True, capture_output=True, text=True)

    run("wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", wheel_dir, src)
    (wheel,) = wheel_dir.glob("*.whl")
    run("install", "--no-deps", "--no-index", "--target", site, wheel)
    return site


@pytest.fixture(scope="module")
def report(site, tmp_path_factory) -> dict:
    """What the probe saw in another project's folder, outside the repository."""
    project = tmp_path_factory.mktemp("other_project")
    for name, text in (
        ("c4_variant.py", C4_VARIANT),
        ("b1_three_classes.py", B1_THREE_CLASSES),
        ("missing_row.py", MISSING_ROW),
        (
            "old_style.py",
            OLD_STYLE.format(row=site / "mmdet_evonorm/configs/mask_rcnn_fpn3_evonorm.py"),
        ),
    ):
        (project / name).write_text(text)
    rows = [name[:-3] for name in readme_rows()]
    rows += ["_base_.recipe", "_base_.recipe_c3_res5", "quickstart." + _quickstart_stem()]
    env = {**os.environ, "PYTHONPATH": str(site), "OMP_NUM_THREADS": "1"}
    out = subprocess.run(
        [sys.executable, "-c", PROBE, ",".join(rows), str(site.parent / "src" / "configs")],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.splitlines()[-1])


def _quickstart_stem() -> str:
    (config,) = (REPO / "configs" / "quickstart").glob("*.py")
    return config.stem


pytestmark = pytest.mark.slow


def test_wheel_carries_every_row_of_the_readme_table_unchanged(site):
    installed, source = site / "mmdet_evonorm" / "configs", site.parent / "src" / "configs"
    names = readme_rows()
    assert len(names) == 17
    assert sorted(p.name for p in installed.glob("*.py")) == names
    sources = sorted(p.relative_to(source) for p in source.rglob("*.py"))
    assert sorted(p.relative_to(installed) for p in installed.rglob("*.py")) == sources
    for rel in sources:
        assert (installed / rel).read_bytes() == (source / rel).read_bytes(), rel


def test_probe_ran_on_the_installed_package(site, report):
    assert report["package"] == str(site / "mmdet_evonorm" / "__init__.py")
    assert report["installed"] == str(site / "mmdet_evonorm")


def test_every_row_imports_by_module_name_as_in_the_source(report):
    assert report["differs_from_source"] == []


def test_other_project_inherits_a_row_overrides_two_values_and_trains(report):
    c4 = report["c4"]
    assert (c4["max_iters"], c4["lr"], c4["bbox_head"]) == (180000, 0.01, "SepHV2BBoxHead")
    assert c4["losses"] and all(math.isfinite(v) for v in c4["losses"].values())
    # two RoIs, 80 COCO classes (+ background), class-specific boxes, 28x28 masks
    assert (c4["cls"], c4["reg"], c4["mask"]) == ([2, 81], [2, 320], [2, 80, 28, 28])


def test_changed_num_classes_resizes_every_head(report):
    three = report["b1_three_classes"]
    assert (three["cls"], three["reg"], three["mask"]) == ([2, 4], [2, 12], [2, 3, 28, 28])
    assert three["losses"] and all(math.isfinite(v) for v in three["losses"].values())


def test_path_form_finds_the_rows_and_old_style_inheritance_is_refused(report, site):
    assert report["rows_folder"] == str(site / "mmdet_evonorm" / "configs")
    kind, message = report["old_style"]
    assert kind == "RuntimeError" and "inheritance chain must match" in message


def test_missing_row_error_names_the_missing_config(report, site):
    kind, message = report["missing_row"]
    assert kind == "ConfigParsingError"
    assert "mmdet_evonorm.configs.mask_rcnn_fpn3_nope" in message
    assert str(site / "mmdet_evonorm" / "configs" / "mask_rcnn_fpn3_nope.py") in message
