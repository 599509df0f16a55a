"""The CPU sizing of a row on the embedded nuclei set (``make quickstart``, ``ablate.py``).

The sizing itself is one config file, ``configs/_base_/nuclei_cpu_sizing.py``; this
module merges it onto a row: onto any row's loaded config for ``tools/ablate.py --preset
nuclei`` (:func:`apply_nuclei_cpu_sizing`) and onto C4 while the quickstart config is
read (:func:`nuclei_cpu_sections`). It changes only what the size of the data and of the
machine need, so the contrast between two sized rows is exactly the rows' own difference
(box head, norms, schedule shape, ...):

* ResNet-18 from scratch (no pretrained weights offline; BN statistics trained),
  FPN and head widths 64, 256-wide box-head FCs, one class;
* nuclei are 10-39 px long (median 29), so the tiles are upscaled 2x (also in the
  row's own test pipeline) and anchors start at 32 px on P3; 300 proposals per image;
* batch 4, no loader workers, SGD lr 0.02 with global-norm clip 10, logging every
  10 iterations, one checkpoint kept.

The LR schedule is *not* part of the sizing: the ablation keeps each row's own
(scaled with :func:`~.schedule.schedule_options`), the quickstart config states its
own. Data: ``docs/quickstart.md``; the K-fold sets: ``data_builders/nuclei.py``.
"""

from __future__ import annotations

from collections.abc import Mapping

from mmengine.config import Config

from mmdet_evonorm.rows import configs_dir

SIZING_CONFIG = "_base_/nuclei_cpu_sizing.py"


def nuclei_test_pipeline(row_pipeline: list, upscale: dict) -> list:
    """The row's test pipeline with its fixed-scale ``Resize`` swapped for ``upscale``."""
    return [dict(upscale) if step["type"] == "Resize" else step for step in row_pipeline]


def nuclei_cpu_sizing(row: Mapping, data_root: str = "data/nuclei/") -> dict:
    """The sizing as a nested dict to merge onto ``row`` (what a child config would say)."""
    sizing_file = Config.fromfile(str(configs_dir() / SIZING_CONFIG))
    sizing = sizing_file.nuclei_cpu.to_dict()
    row_pipeline = row["test_dataloader"]["dataset"]["pipeline"]
    test_pipeline = nuclei_test_pipeline(row_pipeline, sizing_file.upscale)
    sizing["test_pipeline"] = test_pipeline
    sizing["val_dataloader"]["dataset"]["pipeline"] = test_pipeline
    sizing["test_dataloader"] = sizing["val_dataloader"]
    sizing["test_evaluator"] = sizing["val_evaluator"]
    root = data_root.rstrip("/") + "/"
    sizing["data_root"] = root
    for split in ("train", "val", "test"):
        sizing[f"{split}_dataloader"]["dataset"]["data_root"] = root
    for split in ("val", "test"):
        sizing[f"{split}_evaluator"] = dict(
            sizing[f"{split}_evaluator"], ann_file=root + "annotations/val.json"
        )
    return sizing


def apply_nuclei_cpu_sizing(row: Config, data_root: str = "data/nuclei/") -> Config:
    """``row`` sized for the CPU and pointed at the nuclei set in ``data_root`` (in place)."""
    row.merge_from_dict(nuclei_cpu_sizing(row, data_root))
    return row


def nuclei_cpu_sections(row: Mapping, data_root: str = "data/nuclei/") -> dict:
    """The sections of ``row`` that the sizing changes, sized (merged as by mmengine).

    For a config file that sizes the row its ``read_base()`` block imports, while it is
    read; the quickstart config does
    ``globals().update(import_modules_from_strings("mmdet_evonorm.sizing")
    .nuclei_cpu_sections(globals()))``, so it is sized by the same function as every
    run of ``tools/ablate.py --preset nuclei``.
    """
    sizing = nuclei_cpu_sizing(row, data_root)
    sized = Config({key: row[key] for key in sizing if key in row})
    sized.merge_from_dict(sizing)
    return {key: sized[key] for key in sizing}


def nuclei_data_options(data_root: str) -> dict:
    """``--cfg-options`` pointing the three dataloaders and two evaluators at ``data_root``."""
    root = data_root.rstrip("/") + "/"
    options = {f"{split}_dataloader.dataset.data_root": root for split in ("train", "val", "test")}
    for split in ("val", "test"):
        options[f"{split}_evaluator.ann_file"] = root + "annotations/val.json"
    return options
