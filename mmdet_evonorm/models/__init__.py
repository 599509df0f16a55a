"""Model components; importing this module registers them."""

from . import layers, necks, roi_heads  # noqa: F401
