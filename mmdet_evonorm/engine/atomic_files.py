"""Crash-safe file replacement: write elsewhere, flush to disk, then rename into place.

``os.replace`` is atomic on POSIX file systems: a reader (or a run resumed after
a crash) sees either the old file or the complete new one, never a mix. The
data is fsynced before the rename and the folder after it, so the new name
survives a power loss too::

    write  DIR/.NAME.tmp   -> fsync(file)
    rename DIR/.NAME.tmp   -> DIR/NAME        (os.replace)
    fsync(DIR)                                 (the rename itself is on disk)
"""

from __future__ import annotations

import os
import os.path as osp


def temp_name(name: str) -> str:
    """The hidden sibling a file is written to before :func:`publish` renames it."""
    return f".{name}.tmp"


def fsync_path(path: str) -> None:
    """Flush a file's or a folder's data and metadata to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish(written: str, path: str) -> None:
    """Atomically move the complete file ``written`` to ``path`` (same folder)."""
    fsync_path(written)
    os.replace(written, path)
    fsync_path(osp.dirname(osp.abspath(path)))


def write_bytes_atomic(path: str, data: bytes) -> None:
    """Replace (or create) the file ``path`` so that it never holds partial content."""
    written = osp.join(osp.dirname(osp.abspath(path)), temp_name(osp.basename(path)))
    with open(written, "wb") as file:
        file.write(data)
    publish(written, path)


def write_text_atomic(path: str, text: str) -> None:
    """Replace the text file ``path`` so that it never holds partial content."""
    write_bytes_atomic(path, text.encode("utf-8"))
