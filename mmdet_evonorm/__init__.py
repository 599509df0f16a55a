"""mmdet_evonorm: EvoNorm-S0 and the object_detection2 Mask R-CNN ablations for mmdet 3.x.

Importing the package registers every module (norm layer, necks, RoI heads, hooks)
in the mmengine/mmdet registries, so configs only need
``custom_imports = dict(imports=['mmdet_evonorm'], allow_failed_imports=False)``.
"""

from . import engine, evaluation, models  # noqa: F401  (registration side effects)
from .version import __version__

__all__ = ["__version__"]
