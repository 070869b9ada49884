"""The export directory: checked up front, written under a temporary name, renamed on success.

A thin layer over :mod:`kerasrnn.storage` that words its errors for the
exporter (:class:`~kerasrnn.export.ExportError`, with a hint on what to do).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from kerasrnn.export.errors import ExportError
from kerasrnn.storage.atomic import StagedDirectory
from kerasrnn.storage.atomic import staging_directories
from kerasrnn.storage.destinations import DestinationError
from kerasrnn.storage.destinations import Problem
from kerasrnn.storage.destinations import check_new_directory

WHAT = "the export"
_HINTS = {
    Problem.EXISTS: "; choose another output path or overwrite it",
    Problem.NOT_A_DIRECTORY: "; remove it or choose another path",
}


def export_error(error: DestinationError) -> ExportError:
    """``error`` as an :class:`ExportError`, with the exporter's hint where there is one."""
    return ExportError(f"{error}{_HINTS.get(error.problem, '')}")


def check_destination(path: str | os.PathLike, overwrite: bool = False) -> Path:
    """Fails fast (without creating anything) if ``path`` cannot receive an export; returns it absolute.

    Raises:
        ExportError: ``path`` exists (and not ``overwrite``), is not a
            directory, or its nearest existing ancestor is not a writable
            directory.
    """
    try:
        return check_new_directory(path, WHAT, existing="replace" if overwrite else "refuse")
    except DestinationError as error:
        raise export_error(error) from None


def stage(path: str | os.PathLike, overwrite: bool = False) -> StagedDirectory:
    """A :class:`~kerasrnn.storage.atomic.StagedDirectory` for an export to ``path``.

    Raises:
        ExportError: see :func:`check_destination`; or the temporary
            directory cannot be made.
    """
    try:
        return StagedDirectory(path, existing="replace" if overwrite else "refuse", what=WHAT)
    except DestinationError as error:
        raise export_error(error) from None


def commit(staging: StagedDirectory) -> Path:
    """Renames the staged export into place.

    Raises:
        ExportError: the rename failed (the previous export, if any, is kept).
    """
    try:
        return staging.commit()
    except DestinationError as error:
        raise export_error(error) from None


def remove_new_staging(path: str | os.PathLike, before: set[Path]) -> None:
    """Removes the temporary directories of exports to ``path`` that are not in ``before``.

    For a worker process that died (killed, out of memory) and could not
    clean up after itself.
    """
    for leftover in staging_directories(path) - before:
        shutil.rmtree(leftover, ignore_errors=True)
