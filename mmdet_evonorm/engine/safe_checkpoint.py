"""Checkpoints that ``torch.load(weights_only=True)`` accepts, and the check for them.

torch >= 2.6 loads with ``weights_only=True`` by default, which admits only
tensors, containers and plain Python values. An mmengine checkpoint also
pickles the message hub's ``HistoryBuffer`` objects (whose statistics methods
unpickle through ``builtins.getattr``) and NumPy arrays/scalars, so the
weights-only unpickler rejects it. Allow-listing ``getattr`` would let any
checkpoint run code, so instead the few offending objects are rewritten into
tagged plain dicts at save time and rebuilt at load time::

    HistoryBuffer   ->  {TAG: 'HistoryBuffer', 'log': Tensor, 'count': Tensor,
                         'max_length': int}
    np.ndarray      ->  {TAG: 'ndarray', 'data': Tensor}
    np.generic      ->  {TAG: 'numpy_scalar', 'dtype': str, 'value': int|float|...}

``meta[FORMAT_KEY]`` records the format version. See
https://pytorch.org/docs/stable/notes/serialization.html#weights-only and
open-mmlab/mmengine#1655 for the incompatibility this works around.
"""

from __future__ import annotations

import io
import pickle
import re
import zipfile
from collections import Counter, OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from mmengine.logging import HistoryBuffer

from ..checks import BadInputError
from ..checks.files import check_new_file

TAG = "__mmdet_evonorm_type__"
FORMAT_KEY = "mmdet_evonorm_safe_checkpoint"
FORMAT_VERSION = 1
CONVERTER = "python tools/convert_checkpoint.py"


def to_weights_only(obj: Any) -> Any:
    """Return ``obj`` with HistoryBuffers and NumPy values replaced by tagged dicts."""
    if isinstance(obj, HistoryBuffer):
        log, count = obj.data
        return {
            TAG: "HistoryBuffer",
            "log": torch.from_numpy(np.array(log)),
            "count": torch.from_numpy(np.array(count)),
            "max_length": obj.max_length,
        }
    if isinstance(obj, np.ndarray):
        return {TAG: "ndarray", "data": torch.from_numpy(np.array(obj))}
    if isinstance(obj, np.generic):
        return {TAG: "numpy_scalar", "dtype": obj.dtype.str, "value": obj.item()}
    return _map_container(obj, to_weights_only)


def from_weights_only(obj: Any) -> Any:
    """Inverse of :func:`to_weights_only`."""
    if isinstance(obj, dict) and isinstance(obj.get(TAG), str):
        kind = obj[TAG]
        if kind == "HistoryBuffer":
            return HistoryBuffer(obj["log"].numpy(), obj["count"].numpy(), obj["max_length"])
        if kind == "ndarray":
            return obj["data"].numpy()
        if kind == "numpy_scalar":
            return np.dtype(obj["dtype"]).type(obj["value"])
        raise ValueError(f"unknown tagged value {kind!r}: written by a newer mmdet_evonorm?")
    return _map_container(obj, from_weights_only)


def _map_container(obj: Any, fn) -> Any:
    """Apply ``fn`` to the items of the built-in containers weights-only loads."""
    if type(obj) in (dict, OrderedDict, Counter):
        return type(obj)({key: fn(value) for key, value in obj.items()})
    if type(obj) in (list, tuple):
        return type(obj)(fn(value) for value in obj)
    return obj


def encode_checkpoint(checkpoint: dict) -> None:
    """Rewrite a checkpoint dict in place so that it loads weights-only."""
    for key in list(checkpoint):
        checkpoint[key] = to_weights_only(checkpoint[key])
    checkpoint.setdefault("meta", {})[FORMAT_KEY] = FORMAT_VERSION


def decode_checkpoint(checkpoint: dict) -> None:
    """Rebuild, in place, the objects :func:`encode_checkpoint` rewrote."""
    version = checkpoint.get("meta", {}).get(FORMAT_KEY)
    if version is None:
        return
    if version > FORMAT_VERSION:
        raise ValueError(
            f"checkpoint format {version} is newer than this mmdet_evonorm "
            f"({FORMAT_VERSION}); upgrade mmdet_evonorm"
        )
    for key in list(checkpoint):
        checkpoint[key] = from_weights_only(checkpoint[key])


class UnsafeCheckpointError(BadInputError):
    """A checkpoint that ``torch.load(weights_only=True)`` refuses."""


def check_weights_only(path: str | Path, map_location: Any = "cpu") -> Any:
    """Load ``path`` with the weights-only unpickler; nothing in it is executed.

    Tensor data is memory-mapped (zip format), so this costs one pass over the
    pickle only. ``map_location`` is ``torch.load``'s.

    Returns:
        The loaded checkpoint (tensors memory-mapped; tagged values not decoded).

    Raises:
        UnsafeCheckpointError: If the weights-only unpickler refuses it; the
            one-line message names the file, the offending global and the
            converter to run on a trusted file.
        BadInputError: If it is not a readable torch checkpoint at all.
    """
    try:
        return torch.load(
            path, map_location=map_location, weights_only=True, mmap=zipfile.is_zipfile(path)
        )
    except pickle.UnpicklingError as exc:
        raise UnsafeCheckpointError(
            f"{path} is not loadable with torch.load(weights_only=True) "
            f"({_refusal_reason(exc)}); "
            "loading it could run code. If you trust the file, convert it once: "
            f"{CONVERTER} {path} OUT.pth"
        ) from None
    except Exception as exc:  # noqa: BLE001  (torch.load fails on garbage in many ways)
        raise BadInputError(
            f"{path} is not a readable torch checkpoint ({_first_line(exc)})"
        ) from None


def _refusal_reason(exc: pickle.UnpicklingError) -> str:
    """The gist of torch's weights-only refusal: the global or opcode it met."""
    text = str(exc)
    found = re.search(r"GLOBAL ([\w.]+)", text)
    if found:
        return f"it pickles {found.group(1)}"
    found = re.search(r"Unsupported operand \d+", text)
    return found.group(0) if found else _first_line(exc)


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


def convert_checkpoint(src: str | Path, dst: str | Path, log=print) -> None:
    """Write a weights-only-loadable copy of the trusted checkpoint ``src`` to ``dst``.

    ``src`` is first tried weights-only; only if that fails is it unpickled with
    ``weights_only=False`` (after a warning), which runs whatever code it holds.

    Raises:
        BadInputError: If ``dst`` exists (it is never overwritten), ``src`` is
            unreadable, or the converted copy still does not load weights-only (an
            object type the converter does not handle).
    """
    check_new_file(str(dst), "the output")
    dst = Path(dst)
    try:
        check_weights_only(src)
        checkpoint = torch.load(src, map_location="cpu", weights_only=True)
    except UnsafeCheckpointError:
        log(
            f"WARNING: unpickling {src} with weights_only=False; this runs any code "
            "the file contains. Only convert files from a source you trust."
        )
        checkpoint = torch.load(src, map_location="cpu", weights_only=False)
    if not isinstance(checkpoint, dict):
        raise BadInputError(f"{src} holds a {type(checkpoint).__name__}, not a dict")
    if "state_dict" not in checkpoint:  # a bare state dict, as mmengine reads it
        checkpoint = {"state_dict": checkpoint}
    encode_checkpoint(checkpoint)
    buffer = io.BytesIO()
    torch.save(checkpoint, buffer)
    buffer.seek(0)
    try:
        torch.load(buffer, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise BadInputError(
            f"{src} holds objects the converter does not handle ({_refusal_reason(exc)})"
        ) from None
    dst.parent.mkdir(parents=True, exist_ok=True)
    with open(dst, "xb") as file:
        file.write(buffer.getvalue())
