"""mmdet_evonorm.benchmark.model: one config's cost (tools/benchmark.py)."""

from __future__ import annotations

import pytest

from mmdet_evonorm.benchmark import model
from mmdet_evonorm.benchmark.cli import parse_args

C4 = "configs/mask_rcnn_fpn3_sephv2_evonorm_cosine.py"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["missing.py"], "missing.py: no such config file"),
        ([C4, "--amp"], "--amp needs --device cuda"),
        ([C4, "--roi-scale", "2"], "argument --roi-scale: must be in (0, 1]"),
        ([C4, "--iters", "2"], "unrecognized arguments: --iters"),  # now --rounds
    ],
)
def test_rejects_bad_input(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        parse_args(model, argv)
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


def test_options_and_defaults():
    args = parse_args(model, [C4, "--cfg-options", "model.rpn_head.num_convs=2"])
    assert (args.warmup, args.rounds, args.threads) == (2, 5, None)
    assert args.cfg_options == {"model.rpn_head.num_convs": 2}
    assert args.inp.height == 288 and args.flops_input == (576, 768)
