"""RoI-side components: box heads, mask heads, shared heads."""

from . import bbox_heads, mask_heads, shared_heads  # noqa: F401
