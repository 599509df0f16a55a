"""Bilinear resize: TF1 legacy sampling against a NumPy reference, PyTorch mode."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mmdet_evonorm.models.necks import RESIZE_MODES, mean_resized, resize_bilinear

SIZE_PAIRS = [
    ((8, 8), (4, 4)),  # 2x down
    ((25, 38), (13, 19)),  # odd down
    ((13, 19), (25, 38)),  # odd up
    ((4, 5), (25, 38)),  # large up
    ((25, 38), (4, 5)),  # large down
    ((5, 7), (1, 1)),
    ((1, 1), (3, 2)),
]


def tf_legacy_resize_reference(image: np.ndarray, out_h: int, out_w: int):
    """TF1 ``resize_bilinear(align_corners=False, half_pixel_centers=False)``.

    Per output pixel, as TF's CPU kernel describes it: source = index * in / out,
    lower neighbour floor(source), upper neighbour clamped to the last pixel.
    """
    in_h, in_w = image.shape[-2:]
    out = np.empty(image.shape[:-2] + (out_h, out_w), dtype=np.float64)
    for y in range(out_h):
        in_y = y * (in_h / out_h)
        top = int(np.floor(in_y))
        bottom = min(top + 1, in_h - 1)
        y_lerp = in_y - top
        for x in range(out_w):
            in_x = x * (in_w / out_w)
            left = int(np.floor(in_x))
            right = min(left + 1, in_w - 1)
            x_lerp = in_x - left
            top_v = (
                image[..., top, left] + (image[..., top, right] - image[..., top, left]) * x_lerp
            )
            bottom_v = (
                image[..., bottom, left]
                + (image[..., bottom, right] - image[..., bottom, left]) * x_lerp
            )
            out[..., y, x] = top_v + (bottom_v - top_v) * y_lerp
    return out


@pytest.mark.parametrize(("in_size", "out_size"), SIZE_PAIRS)
def test_tf_legacy_matches_numpy_reference(in_size, out_size):
    torch.manual_seed(0)
    x = torch.randn(2, 3, *in_size, dtype=torch.float64)
    out = resize_bilinear(x, out_size, "tf_legacy_bilinear")
    expected = tf_legacy_resize_reference(x.numpy(), *out_size)
    assert out.shape == (2, 3, *out_size)
    np.testing.assert_allclose(out.numpy(), expected, rtol=0, atol=1e-12)


def test_tf_legacy_float32_close_to_reference():
    torch.manual_seed(0)
    x = torch.randn(1, 4, 13, 19)
    out = resize_bilinear(x, (25, 38), "tf_legacy_bilinear")
    expected = tf_legacy_resize_reference(x.double().numpy(), 25, 38)
    np.testing.assert_allclose(out.numpy(), expected, rtol=0, atol=1e-5)


def test_tf_legacy_2x_downsample_is_strided_subsampling():
    torch.manual_seed(0)
    x = torch.randn(2, 3, 26, 38)
    out = resize_bilinear(x, (13, 19), "tf_legacy_bilinear")
    torch.testing.assert_close(out, x[..., ::2, ::2], rtol=0, atol=0)


def test_torch_mode_is_interpolate_without_align_corners():
    torch.manual_seed(0)
    x = torch.randn(2, 3, 13, 19)
    out = resize_bilinear(x, (25, 38), "torch_bilinear")
    expected = F.interpolate(x, (25, 38), mode="bilinear", align_corners=False)
    torch.testing.assert_close(out, expected, rtol=0, atol=0)


def test_modes_differ_off_the_identity():
    torch.manual_seed(0)
    x = torch.randn(1, 1, 8, 8)
    torch_out, tf_out = (resize_bilinear(x, (4, 4), mode) for mode in RESIZE_MODES)
    assert not torch.allclose(torch_out, tf_out)
    # torch averages 2x2 blocks, TF legacy picks their top-left pixel
    torch.testing.assert_close(torch_out, F.avg_pool2d(x, 2))


@pytest.mark.parametrize("mode", RESIZE_MODES)
def test_same_size_is_identity(mode):
    x = torch.randn(1, 2, 7, 10)
    assert resize_bilinear(x, (7, 10), mode) is x


@pytest.mark.parametrize("mode", RESIZE_MODES)
def test_gradient_is_the_adjoint(mode):
    x = torch.randn(1, 2, 7, 10, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: resize_bilinear(t, (13, 19), mode), (x,))


def test_mean_resized_averages_resized_maps():
    torch.manual_seed(0)
    maps = [torch.randn(2, 3, h, w) for h, w in [(25, 38), (13, 19), (7, 10)]]
    mode = "tf_legacy_bilinear"
    expected = sum(resize_bilinear(m, (13, 19), mode) for m in maps) / 3
    torch.testing.assert_close(mean_resized(maps, (13, 19), mode), expected)


def test_unknown_mode_is_rejected():
    with pytest.raises(ValueError, match="resize_mode"):
        resize_bilinear(torch.zeros(1, 1, 4, 4), (2, 2), "bicubic")
