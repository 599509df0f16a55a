"""Paths given on the command line: inputs that must exist, outputs that must be writable."""

from __future__ import annotations

import os
import os.path as osp

from .bad_input import BadInputError


def check_config_file(path: str) -> None:
    """``path`` must be a config file."""
    if osp.isdir(path):
        raise BadInputError(f"config {path!r} is a folder; pass the path of a .py config file")
    if not osp.isfile(path):
        raise BadInputError(f"config file {path!r} not found; pass the path of a .py config")


def check_creatable_dir(path: str, what: str) -> None:
    """``path`` must be a folder, or one that can be created; nothing is created here.

    Args:
        path (str): The folder.
        what (str): How the user gave it, for the message (e.g. ``'--work-dir'``).
    """
    existing = osp.abspath(path)
    while not osp.exists(existing):
        existing = osp.dirname(existing)
    if not osp.isdir(existing):
        where = "it" if existing == osp.abspath(path) else existing
        raise BadInputError(
            f"{what} {path!r} cannot be a folder: {where} is a file; choose another folder"
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        raise BadInputError(
            f"{what} {path!r}: {existing} is not writable; choose a folder you can write to"
        )


def check_new_file(path: str, what: str) -> None:
    """``path`` must not exist (nothing is overwritten) and its folder must be creatable."""
    if osp.lexists(path):
        raise BadInputError(
            f"{what} {path} already exists; choose another path (nothing is overwritten)"
        )
    check_creatable_dir(osp.dirname(osp.abspath(path)), f"the folder of {what}")
