"""timm's ``EvoNorm2dS0`` as an independent reference for tests and benchmarks.

``import timm`` pulls in torchvision, which cannot be installed beside the CPU
build of torch this project pins, so timm is installed without dependencies and
only ``timm/layers/evo_norm.py`` (plus the few ``timm/layers`` helpers it
imports) is loaded, under empty stand-ins for the ``timm`` and ``timm.layers``
packages. Nothing of timm stays in ``sys.modules`` afterwards. Not imported by
the package: the norm layer itself never needs timm.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from pathlib import Path


def load_timm_evonorm2d_s0() -> type | None:
    """Return timm's ``EvoNorm2dS0`` class, or None if timm is not installed."""
    spec = importlib.util.find_spec("timm")
    if spec is None or spec.origin is None:
        return None
    root = Path(spec.origin).parent
    previous = {k: m for k, m in sys.modules.items() if k.partition(".")[0] == "timm"}
    for name, folder in (("timm", root), ("timm.layers", root / "layers")):
        stub = types.ModuleType(name)
        stub.__path__ = [str(folder)]
        sys.modules[name] = stub
    try:
        return importlib.import_module("timm.layers.evo_norm").EvoNorm2dS0
    finally:
        for name in [k for k in sys.modules if k.partition(".")[0] == "timm"]:
            del sys.modules[name]
        sys.modules.update(previous)
