"""mmdet_evonorm: EvoNorm-S0 and the object_detection2 Mask R-CNN ablations for mmdet 3.x.

Importing the package registers every module (norm layer, necks, RoI heads, hooks)
in the mmengine/mmdet registries, so configs only need
``custom_imports = dict(imports=['mmdet_evonorm'], allow_failed_imports=False)``.

``MMDET_EVONORM_KERNELS_ONLY=1`` in the environment imports (and registers) only
:mod:`mmdet_evonorm.models.layers`, the EvoNorm-S0 layer and its kernels, which need
torch, triton and mmengine but neither mmcv nor mmdet; ``tools/gpu_check.sh`` uses
it to test the kernels before mmcv is built. It warns, as nothing else is
registered then.
"""

import os
import warnings

# mmengine 0.10.7 imports pkg_resources (needed for `mmdet::` bases, hence setuptools<81),
# which warns on every run; keep the tools' stderr to what matters.
warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)

#: Environment switch: import only ``models.layers`` (see the module docstring).
KERNELS_ONLY_ENV = "MMDET_EVONORM_KERNELS_ONLY"


def kernels_only() -> bool:
    """Whether :data:`KERNELS_ONLY_ENV` is ``1``."""
    return os.environ.get(KERNELS_ONLY_ENV) == "1"


if kernels_only():
    warnings.warn(
        f"{KERNELS_ONLY_ENV}=1: only mmdet_evonorm.models.layers is imported; the necks, "
        "heads, hooks and metrics are not registered",
        stacklevel=2,
    )
    from .models import layers  # noqa: E402, F401
else:
    from . import engine, evaluation, models  # noqa: E402, F401  (registration side effects)
from .version import __version__  # noqa: E402

__all__ = ["KERNELS_ONLY_ENV", "__version__", "kernels_only"]
