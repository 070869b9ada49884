"""Crash-safe file writes: write a temporary file, flush it to disk, rename.

``os.replace`` is atomic on POSIX (and on Windows within one volume), so a
reader -- or a run resumed after ``kill -9`` -- sees either the old file or
the complete new one, never a partial one.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any, Callable

import numpy as np

TMP_SUFFIX = ".tmp"


def _fsync_directory(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # e.g. Windows: directories cannot be opened
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_atomic(path: str | os.PathLike, write: Callable[[io.BufferedWriter], None]) -> Path:
    """Call ``write(handle)`` on a temporary sibling of ``path``, then rename it.

    The temporary file is removed if ``write`` fails.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}{TMP_SUFFIX}")
    try:
        with open(tmp, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            tmp.unlink()
        except FileNotFoundError:
            pass
        raise
    _fsync_directory(path.parent)
    return path


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    return write_atomic(path, lambda handle: handle.write(data))


def write_text(path: str | os.PathLike, text: str) -> Path:
    return write_bytes(path, text.encode("utf-8"))


def write_json(path: str | os.PathLike, value: Any) -> Path:
    return write_text(path, json.dumps(value, indent=2, sort_keys=True, default=_json_default) + "\n")


def write_npz(path: str | os.PathLike, arrays: dict[str, np.ndarray]) -> Path:
    return write_atomic(path, lambda handle: np.savez(handle, **arrays))


def remove_stale_temporaries(directory: str | os.PathLike) -> list[Path]:
    """Delete temporary files that an interrupted :func:`write_atomic` left."""
    removed = []
    directory = Path(directory)
    if directory.is_dir():
        for path in directory.glob(f".*{TMP_SUFFIX}"):
            try:
                path.unlink()
                removed.append(path)
            except OSError:
                pass
    return removed


def _json_default(value: Any) -> Any:
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
