"""Every URL checkpoint loaded weights-only, and ``torchvision://`` without torchvision.

mmengine's loaders for ``http(s)://`` and the name schemes built on it
(``torchvision://``, ``open-mmlab://``, ``mmcls://``) read the file with
``torch.hub.load_state_dict_from_url``, whose ``weights_only`` defaults to False
(torch 2.11-2.13): a tampered file at a URL given as ``init_cfg``, ``load_from``
or through ``--cfg-options`` would run its pickle. ``torchvision://NAME`` also
resolves NAME by importing torchvision, which ``make venv`` does not install.
Importing this module (``import mmdet_evonorm`` does) re-registers those schemes
with mmengine's public ``CheckpointLoader.register_scheme(force=True)``:

.. code-block:: none

    scheme                        name -> URL or file                  load (all weights-only)
    http://, https://             the URL itself                       download once into
    torchvision://, modelzoo://   mmengine/hub/torchvision_0.12.json   torch.hub's cache, then
    open-mmlab://, openmmlab://   mmengine/hub/openmmlab.json          torch.load(weights_only=
    mmcls://                      mmengine/hub/mmcls.json (backbone.*)   True)
    [x:]s3://, [x:]petrel://      mmengine's file backend              bytes -> temp file
    pavi://                       pavi's modelcloud                    download -> temp file

``torchvision://resnet50`` is torchvision's IMAGENET1K_V1 file
``resnet50-0676ba61.pth`` (mmengine's table holds the torchvision 0.12 names,
which newer torchvision keeps for V1). Offline, set
``MMDET_EVONORM_CHECKPOINT_DIR`` to a folder holding the file: each URL
checkpoint is then read from ``<folder>/<file name of the URL>`` and nothing is
downloaded. A refused, missing or undownloadable file raises
:class:`~mmdet_evonorm.checks.BadInputError` with one line naming the file, its
URL and this option.
"""

from __future__ import annotations

import os
import os.path as osp
import tempfile
import urllib.error
from collections.abc import Callable
from functools import cache
from urllib.parse import urlparse

import mmengine
import torch
from mmengine.dist import get_dist_info
from mmengine.runner.checkpoint import (
    CheckpointLoader,
    get_deprecated_model_names,
    get_external_models,
    get_mmcls_models,
)

from ..checks import BadInputError
from .safe_checkpoint import check_weights_only

#: Folder of local copies of URL checkpoints, by the URL's file name.
OFFLINE_DIR_ENV = "MMDET_EVONORM_CHECKPOINT_DIR"
_NAME_SCHEMES = {
    "torchvision://": "torchvision",
    "modelzoo://": "torchvision",
    "open-mmlab://": "openmmlab",
    "openmmlab://": "openmmlab",
    "mmcls://": "mmcls",
}


@cache
def torchvision_urls() -> dict[str, str]:
    """``torchvision://`` names -> URLs from mmengine's bundled table (no torchvision import)."""
    return mmengine.load(osp.join(mmengine.__path__[0], "hub", "torchvision_0.12.json"))


def resolve_url(checkpoint: str) -> str | None:
    """The http(s) URL a checkpoint name stands for; None for local and storage paths.

    Raises:
        BadInputError: For a name the scheme's table has no URL for.
    """
    if checkpoint.startswith(("http://", "https://")):
        return checkpoint
    scheme = next((s for s in _NAME_SCHEMES if checkpoint.startswith(s)), None)
    if scheme is None:
        return None
    name = checkpoint[len(scheme) :]
    table = _NAME_SCHEMES[scheme]
    if table == "torchvision":
        urls = torchvision_urls()
    elif table == "mmcls":
        urls = get_mmcls_models()
    else:
        urls = get_external_models()
        name = get_deprecated_model_names().get(name, name)
    url = urls.get(name)
    if not url:
        raise BadInputError(
            f"checkpoint {checkpoint!r}: {name!r} has no URL in mmengine's {table} table; "
            f"use one of its names (e.g. {next(iter(urls))!r}) or the file's URL or path"
        )
    if not url.startswith(("http://", "https://")):
        raise BadInputError(
            f"checkpoint {checkpoint!r} names the local file {url!r}; give its path instead"
        )
    return url


def local_copy_path(url: str) -> str:
    """Where the file of ``url`` is read from: the offline folder, else torch.hub's cache."""
    file_name = osp.basename(urlparse(url).path)
    folder = os.environ.get(OFFLINE_DIR_ENV) or osp.join(torch.hub.get_dir(), "checkpoints")
    return osp.join(osp.expanduser(folder), file_name)


def check_url_checkpoint(checkpoint: str) -> None:
    """Fail now (one line) if ``checkpoint`` names an unknown file or one missing offline."""
    url = resolve_url(checkpoint)
    if url is not None and os.environ.get(OFFLINE_DIR_ENV):
        _offline_copy(checkpoint, url)


def _offline_copy(source: str, url: str) -> str:
    path = local_copy_path(url)
    if not osp.isfile(path):
        raise BadInputError(
            f"checkpoint {source!r}: {osp.basename(path)} not found in "
            f"{OFFLINE_DIR_ENV}={os.environ[OFFLINE_DIR_ENV]}; download {url} "
            "into that folder on a machine with internet"
        )
    return path


def _download(source: str, url: str) -> str:
    """The cached file of ``url``, downloaded first if needed (rank 0 first, then the rest)."""
    if os.environ.get(OFFLINE_DIR_ENV):
        return _offline_copy(source, url)
    path = local_copy_path(url)
    rank, world_size = get_dist_info()
    if rank == 0 and not osp.isfile(path):
        _fetch(source, url, path)
    if world_size > 1:
        torch.distributed.barrier()
        if not osp.isfile(path):  # a node without the shared cache
            _fetch(source, url, path)
    return path


def _fetch(source: str, url: str, path: str) -> None:
    os.makedirs(osp.dirname(path), exist_ok=True)
    try:
        torch.hub.download_url_to_file(url, path, progress=os.isatty(2))
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise BadInputError(
            f"checkpoint {source!r}: cannot download {url} ({reason}); without network, "
            f"put a copy of {osp.basename(path)} in a folder and set {OFFLINE_DIR_ENV}=<folder>"
        ) from None


def _load_file(path: str, map_location) -> dict:
    """``torch.load(weights_only=True)``; a refused pickle is a one-line BadInputError."""
    return check_weights_only(path, map_location=map_location or "cpu")


# mmengine logs "Loads checkpoint by <name[10:]> backend", hence the ``load_from_`` names.
def load_from_url_weights_only(filename: str, map_location=None) -> dict:
    """Loader of ``http(s)://`` and the name schemes (see the module docstring)."""
    path = _download(filename, resolve_url(filename))
    try:
        checkpoint = _load_file(path, map_location)
    except BadInputError as exc:
        raise type(exc)(f"checkpoint {filename!r}: {exc}") from None
    if filename.startswith("mmcls://"):
        state_dict = checkpoint.get("state_dict", checkpoint)
        prefix = "backbone."
        keep = {k[len(prefix) :]: v for k, v in state_dict.items() if k.startswith(prefix)}
        checkpoint = {"state_dict": keep}
    return checkpoint


def _load_bytes(data: bytes, map_location) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        path = osp.join(folder, "checkpoint.pth")
        with open(path, "wb") as file:
            file.write(data)
        return _load_file(path, map_location)


def load_from_storage_weights_only(
    filename: str, map_location=None, backend: str = "petrel"
) -> dict:
    """Loader of ``s3://`` / ``petrel://`` (mmengine's file backend), weights-only."""
    from mmengine.fileio import get_file_backend

    file_backend = get_file_backend(filename, backend_args={"backend": backend})
    return _load_bytes(file_backend.get(filename), map_location)


def load_from_pavi_weights_only(filename: str, map_location=None) -> dict:
    """Loader of ``pavi://`` (pavi's modelcloud), weights-only."""
    try:
        from pavi import modelcloud
    except ImportError:
        raise BadInputError(f"checkpoint {filename!r}: pavi:// needs the pavi package") from None
    model = modelcloud.get(filename[len("pavi://") :])
    with tempfile.TemporaryDirectory() as folder:
        path = osp.join(folder, model.name)
        model.download(path)
        return _load_file(path, map_location)


#: mmengine's URL-ish prefixes (exactly as it registers them) -> the weights-only loader.
LOADERS: dict[tuple[str, ...], Callable] = {
    ("http://", "https://", *_NAME_SCHEMES): load_from_url_weights_only,
    (r"(\S+\:)?s3://", r"(\S+\:)?petrel://"): load_from_storage_weights_only,
    ("pavi://",): load_from_pavi_weights_only,
}


def register_weights_only_loaders() -> None:
    """Replace mmengine's loaders of :data:`LOADERS`' prefixes (idempotent)."""
    for prefixes, loader in LOADERS.items():
        CheckpointLoader.register_scheme(prefixes=list(prefixes), loader=loader, force=True)


register_weights_only_loaders()
