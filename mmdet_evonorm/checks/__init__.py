"""Input checks: everything a run reads is checked before anything is written.

One error type, :class:`BadInputError` (one line naming the file or field and what
to do; the tools print ``error: <line>`` and exit with status 2), one walker over
configs, :func:`.config_walk.walk`, which every check that reads a config uses, and
one message for an unknown ``type`` (:func:`.config.unknown_type`), whether the
lookup of the runner's sections finds it or the up-front build of the model:

.. code-block:: none

    module            checks
    files             config file, folders to create, outputs that must not exist
    config            config bases, registered ``type`` names, heads' num_classes
    annotations       dataloaders' and evaluators' annotation files (coco_instances:
                      one pass over a COCO JSON: structure, references, geometry, images)
    checkpoints       exist, are files, load weights-only, fit the model
    builds            model, optimizer wrapper and schedulers built up front, their
                      errors mapped to the config field

Only the error type is imported here (the engine's checkpoint loaders and the dataset
builders raise it too); import the checks from their modules.
"""

from .bad_input import (
    EXIT_BAD_INPUT,
    ArgumentParser,
    BadInputError,
    exits_on_bad_input,
    print_error,
)

__all__ = [
    "EXIT_BAD_INPUT",
    "ArgumentParser",
    "BadInputError",
    "exits_on_bad_input",
    "print_error",
]
