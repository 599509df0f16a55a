"""Bilinear feature-map resize in two conventions (PyTorch and TF1 legacy).

The fusion and balance stages of object_detection2 (``vghost2008/wml1``,
``object_detection2/modeling/backbone/buildin_hooks.py`` @911cd7b / @5a83a1a) resize
feature maps with TF1 ``tf.image.resize_bilinear(align_corners=False)``, whose
legacy sampling has no half-pixel centres: output index ``i`` reads the source
coordinate ``i * in / out``. PyTorch's bilinear ``F.interpolate`` (align_corners
False) reads ``(i + 0.5) * in / out - 0.5`` instead::

    2x downsample of 0 1 2 3 (source pixels)
      tf_legacy_bilinear:  src = 0, 2        -> picks pixels 0 and 2 (no averaging)
      torch_bilinear:      src = 0.5, 2.5    -> averages (0,1) and (2,3)

``'torch_bilinear'`` is the pragmatic default; ``'tf_legacy_bilinear'`` reproduces
the original exactly (integer index arithmetic, so the sampling positions carry
no rounding error; TF computes them in float32, a difference below 1e-6).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

RESIZE_MODES = ("torch_bilinear", "tf_legacy_bilinear")


def check_resize_mode(mode: str) -> str:
    """Return ``mode`` if it is one of :data:`RESIZE_MODES`, else raise."""
    if mode not in RESIZE_MODES:
        raise ValueError(f"resize_mode must be one of {RESIZE_MODES}, got {mode!r}")
    return mode


def resize_bilinear(x: Tensor, size: tuple[int, int], mode: str) -> Tensor:
    """Resize an ``(N, C, H, W)`` map to ``size = (H', W')`` bilinearly.

    Args:
        x (Tensor): Feature map of shape (N, C, H, W).
        size (tuple[int, int]): Output height and width.
        mode (str): ``'torch_bilinear'`` or ``'tf_legacy_bilinear'``.

    Returns:
        Tensor: Map of shape (N, C, H', W'); ``x`` itself when the size is unchanged
        (both conventions are the identity then).
    """
    check_resize_mode(mode)
    size = tuple(int(s) for s in size)
    if tuple(x.shape[-2:]) == size:
        return x
    if mode == "torch_bilinear":
        return F.interpolate(x, size=size, mode="bilinear", align_corners=False)
    return _legacy_linear(_legacy_linear(x, size[0], dim=-2), size[1], dim=-1)


def _legacy_linear(x: Tensor, out_len: int, dim: int) -> Tensor:
    """TF1 legacy linear interpolation of ``x`` along one axis to ``out_len``."""
    in_len = x.shape[dim]
    scaled = torch.arange(out_len, device=x.device) * in_len  # i * in, exact
    low = torch.div(scaled, out_len, rounding_mode="floor")
    high = (low + 1).clamp(max=in_len - 1)
    frac = (scaled - low * out_len).to(x.dtype) / out_len
    shape = [1] * x.dim()
    shape[dim] = out_len
    x_low = x.index_select(dim, low)
    return x_low + (x.index_select(dim, high) - x_low) * frac.view(shape)


def mean_resized(maps: Sequence[Tensor], size: tuple[int, int], mode: str) -> Tensor:
    """Resize every map of ``maps`` to ``size`` and return their arithmetic mean."""
    return torch.stack([resize_bilinear(x, size, mode) for x in maps]).mean(0)
