"""``MMDET_EVONORM_KERNELS_ONLY=1``: the EvoNorm-S0 layer imports with torch + mmengine alone.

Each case runs in a fresh interpreter, where importing mmcv or mmdet raises
(a meta-path finder refuses them), as on a GPU machine before mmcv is built.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

PROBE = textwrap.dedent(
    """
    import json, sys, warnings

    class NoMmcvMmdet:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("mmcv", "mmdet") and BLOCK:
                raise ImportError(f"{name} is not installed (blocked by the test)")

    BLOCK = sys.argv[1] == "block"
    sys.meta_path.insert(0, NoMmcvMmdet())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        import mmdet_evonorm.models.layers as layers
    from mmengine.registry import MODELS

    import torch
    x = torch.randn(2, 8, 4, 4)
    norm = MODELS.build(dict(type="EvoNormS0", num_features=8, groups=2))
    print(json.dumps(dict(
        evonorm=MODELS.get("EvoNormS0") is layers.EvoNormS0,
        output_shape=list(norm(x).shape),
        loaded=sorted(m for m in ("mmcv", "mmdet") if m in sys.modules),
        necks="mmdet_evonorm.models.necks" in sys.modules,
        engine="mmdet_evonorm.engine" in sys.modules,
        warnings=[str(w.message) for w in caught if "KERNELS_ONLY" in str(w.message)],
    )))
    """
)


def probe(switch: str | None, block: bool) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "MMDET_EVONORM_KERNELS_ONLY"}
    if switch is not None:
        env["MMDET_EVONORM_KERNELS_ONLY"] = switch
    return subprocess.run(
        [sys.executable, "-c", PROBE, "block" if block else "allow"],
        env={**env, "OMP_NUM_THREADS": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_kernels_only_imports_the_layer_without_mmcv_or_mmdet():
    run = probe("1", block=True)
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["evonorm"] and result["output_shape"] == [2, 8, 4, 4]
    assert result["loaded"] == [] and not result["necks"] and not result["engine"]
    assert len(result["warnings"]) == 1 and "not registered" in result["warnings"][0]


@pytest.mark.parametrize("switch", [None, "0"])
def test_without_the_switch_everything_is_imported(switch):
    blocked = probe(switch, block=True)
    assert blocked.returncode != 0 and "blocked by the test" in blocked.stderr
    run = probe(switch, block=False)
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["loaded"] == ["mmcv", "mmdet"] and result["necks"] and result["engine"]
    assert result["warnings"] == []
