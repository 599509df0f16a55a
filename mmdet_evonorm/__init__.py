"""mmdet_evonorm: EvoNorm-S0 and the object_detection2 Mask R-CNN ablations for mmdet 3.x.

Importing the package registers every module (norm layer, necks, RoI heads, hooks)
in the mmengine/mmdet registries, so configs only need
``custom_imports = dict(imports=['mmdet_evonorm'], allow_failed_imports=False)``.
"""

import warnings

# mmengine 0.10.7 imports pkg_resources (needed for `mmdet::` bases, hence setuptools<81),
# which warns on every run; keep the tools' stderr to what matters.
warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)

from . import engine, evaluation, models  # noqa: E402, F401  (registration side effects)
from .version import __version__  # noqa: E402

__all__ = ["__version__"]
