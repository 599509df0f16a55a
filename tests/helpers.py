"""Assertions and file checks shared by the tests (``from helpers import ...``).

``tests/`` is on ``sys.path`` while the suite runs: pytest inserts the folder of the
``conftest.py`` it loads (``rootdir``-relative import mode ``prepend``, the default).
Model fixtures live in :mod:`mmdet_evonorm.testing`.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from torch import nn

REPO = Path(__file__).resolve().parents[1]


def snapshot(folder: Path) -> dict:
    """Every file below ``folder`` with its bytes: compare before/after to prove nothing changed."""
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def single_error_line(stderr: str) -> str:
    """The one ``error: ...`` line a tool printed for bad input (no traceback, no second line)."""
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, stderr[-3000:]
    assert "Traceback" not in stderr, stderr[-3000:]
    return errors[0]


def assert_xavier_uniform(layer: nn.Module) -> None:
    """``layer.weight`` is Xavier-uniform (TF-slim's default) and its bias, if any, is 0.

    The bound sqrt(6 / (fan_in + fan_out)) is the same for Linear, Conv2d and
    ConvTranspose2d weights: (size(0) + size(1)) times the kernel area.
    """
    weight = layer.weight.detach()
    receptive = weight[0, 0].numel()
    bound = (6.0 / ((weight.shape[0] + weight.shape[1]) * receptive)) ** 0.5
    assert weight.abs().max() <= bound, layer
    assert weight.abs().max() > 0.9 * bound, layer  # uniform, not a narrow normal
    if layer.bias is not None:
        assert not layer.bias.any(), layer


def import_standalone_tool(name: str):
    """Import ``tools/<name>.py``, a script that must run without this package.

    Only for such scripts: ``mmcv_wheel.py`` runs on a bare interpreter before mmcv (and
    so this package) is installed, so its logic cannot live in the package. Every other
    tool is a few lines calling the package, whose functions the tests import normally.
    """
    path = REPO / "tools" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
