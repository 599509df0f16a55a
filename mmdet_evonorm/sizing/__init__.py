"""How a row config is resized and rescheduled for the quickstart and the ablation.

``nuclei_cpu``: the CPU sizing of any row on the embedded nuclei set (R18, widths 64);
``schedule``: ``--cfg-options`` that shorten or rescale a row's own LR schedule.
Both work on loaded :class:`mmengine.config.Config` objects, so the style of the
config files does not matter.
"""

from .nuclei_cpu import apply_nuclei_cpu_sizing, nuclei_cpu_sections, nuclei_data_options
from .schedule import scaled_max_iters, schedule_options, train_subset_options

__all__ = [
    "apply_nuclei_cpu_sizing",
    "nuclei_cpu_sections",
    "nuclei_data_options",
    "scaled_max_iters",
    "schedule_options",
    "train_subset_options",
]
