"""The config walker: fields, registries, wrapped datasets, and where nothing is looked up."""

from __future__ import annotations

from mmdet_evonorm.checks.config_walk import find_type, leaf_datasets, walk, walk_config

PIPELINE = [
    dict(type="LoadImageFromFile"),
    dict(type="TestTimeAug", transforms=[[dict(type="RandomFlip")]]),
]
CFG = dict(
    train_dataloader=dict(
        sampler=dict(type="DefaultSampler"),
        dataset=dict(
            type="ConcatDataset",
            datasets=[
                dict(type="RepeatDataset", dataset=dict(type="CocoDataset", pipeline=PIPELINE)),
                dict(
                    type="CocoDataset",
                    pipeline=[
                        dict(
                            type="Albu",
                            transforms=[dict(type="OneOf", transforms=[dict(type="RGBShift")])],
                        )
                    ],
                ),
            ],
        ),
    ),
    default_hooks=dict(timer=dict(type="IterTimerHook"), logger=None),
    val_evaluator=dict(type="Evaluator", metrics=[dict(type="CocoMetric", extra=dict(type="x"))]),
    model=dict(type="MaskRCNN", neck=dict(type="FPG", same_up_trans=dict(type="conv"))),
)


def _registries() -> dict:
    return {node.field: node.registries for node in walk_config(CFG)}


def test_fields_and_registries_follow_the_runner():
    found = _registries()
    assert found["train_dataloader.sampler"] == ("DATA_SAMPLERS",)
    assert found["train_dataloader.dataset.datasets[0].dataset"] == ("DATASETS",)
    pipeline = "train_dataloader.dataset.datasets[0].dataset.pipeline"
    assert found[f"{pipeline}[1].transforms[0][0]"] == ("TRANSFORMS",)
    assert found["default_hooks.timer"] == ("HOOKS",)
    assert found["val_evaluator"] == ("METRICS", "EVALUATOR")
    assert found["val_evaluator.metrics[0]"] == ("METRICS",)


def test_dicts_read_without_a_registry_are_not_looked_up():
    found = _registries()
    assert found["val_evaluator.metrics[0].extra"] == ()  # a key no registry builds from
    albu = "train_dataloader.dataset.datasets[1].pipeline[0]"
    assert found[albu] == ("TRANSFORMS",)
    assert found[f"{albu}.transforms[0]"] is None  # albumentations names, all the way down
    assert found[f"{albu}.transforms[0].transforms[0]"] is None
    assert not any(field.startswith("model") for field in found)  # built up front instead


def test_leaf_datasets_below_wrappers_and_find_type():
    leaves = [node.field for node in leaf_datasets(CFG, "train_dataloader")]
    assert leaves == [
        "train_dataloader.dataset.datasets[0].dataset",
        "train_dataloader.dataset.datasets[1]",
    ]
    assert find_type(CFG["model"], "conv", "model") == "model.neck.same_up_trans"
    assert find_type(CFG["model"], "FPNX", "model") is None
    assert [node.key for node in walk([dict(a=dict())], "x")] == ["", "a"]
