"""Model components; importing this module registers them.

Under ``MMDET_EVONORM_KERNELS_ONLY=1`` only :mod:`.layers` is imported (see
:func:`mmdet_evonorm.kernels_only`).
"""

from .. import kernels_only

if kernels_only():
    from . import layers  # noqa: F401
else:
    from . import dense_heads, layers, necks, roi_heads, task_modules  # noqa: F401
