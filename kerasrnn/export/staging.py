"""The export's destination: checked up front, locked, written under a temporary name, renamed on success.

A thin layer over :mod:`kerasrnn.storage` that words its errors for the
exporter (:class:`~kerasrnn.export.ExportError`, with a hint on what to do)
and adds the exporter's rules:

* **What may be replaced** (``overwrite``): only a directory that is itself a
  kerasrnn export (:func:`not_an_export`) or an empty one; for a ``.onnx``
  output, only an ONNX file that kerasrnn exported (:func:`not_an_onnx_export`).
  Never a run directory, nor a directory holding anything else.
* **One writer** (:func:`lock`): a :class:`~kerasrnn.storage.locks.WriterLock`
  beside the destination (``.NAME.kerasrnn-lock`` in its parent directory),
  taken before anything is written; the second writer fails at once.
* **No leftovers** (:func:`remove_leftovers`): what a killed export left
  beside a destination (temporary directories and files named after a process
  that is gone, unheld lock files) is removed by the next export into that
  directory; a live writer's never.
* **One file** (:class:`StagedFile`): an output ending in ``.onnx`` is one
  ONNX file, written atomically when its export passed.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kerasrnn.export.encoder_decoder import PARTS as SEQ2SEQ_PARTS
from kerasrnn.export.errors import ExportError
from kerasrnn.export.job import ONNX_SUFFIX, is_single_file
from kerasrnn.export.metadata import EXPORT_FORMAT, ONNX_METADATA_KEY
from kerasrnn.export.writers import METADATA_FILE, ONNX_FILE, PARITY_FILE, SAVEDMODEL_DIR, STREAMING_DIR
from kerasrnn.storage import atomic
from kerasrnn.storage.atomic import StagedDirectory, staging_directories
from kerasrnn.storage.destinations import DestinationError, Problem, check_new_directory, check_new_file
from kerasrnn.storage.locks import LockedError, WriterLock, held_beside, remove_abandoned_locks

WHAT = "the export"
#: What an export directory may hold (and nothing else).
EXPORT_ENTRIES = frozenset({SAVEDMODEL_DIR, ONNX_FILE, STREAMING_DIR, METADATA_FILE, PARITY_FILE, *SEQ2SEQ_PARTS})
_HINTS = {
    Problem.EXISTS: "; choose another output path or overwrite it",
    Problem.NOT_A_DIRECTORY: "; remove it or choose another path",
    Problem.IS_A_DIRECTORY: f"; an output ending in {ONNX_SUFFIX} is one ONNX file: choose another name",
}
logger = logging.getLogger(__name__)


def export_error(error: DestinationError) -> ExportError:
    """``error`` as an :class:`ExportError`, with the exporter's hint where there is one."""
    return ExportError(f"{error}{_HINTS.get(error.problem, '')}")


# --------------------------------------------------------------------------- #
# What may be replaced
# --------------------------------------------------------------------------- #


def not_an_export(directory: str | os.PathLike) -> str | None:
    """Why ``--overwrite`` must not replace ``directory``; None if it may (an export, or empty).

    An export holds only :data:`EXPORT_ENTRIES`, and its ``metadata.json``
    says ``"format": "kerasrnn-export"`` (every export has written it) -- or,
    for an export written without it, holds an ``artifacts`` object beside a
    ``parity.json``.
    """
    directory = Path(directory)
    try:
        entries = sorted(path.name for path in directory.iterdir())
    except OSError as error:
        return f"cannot be read ({error.strerror or error})"
    if not entries:
        return None
    if "config.json" in entries:
        return "is a kerasrnn run directory (it holds config.json)"
    others = [name for name in entries if name not in EXPORT_ENTRIES]
    if others:
        shown = ", ".join(others[:3]) + (", ..." if len(others) > 3 else "")
        return f"holds files that are not part of an export ({shown})"
    try:
        metadata = json.loads((directory / METADATA_FILE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        metadata = None
    if not isinstance(metadata, dict):
        return f"has no readable {METADATA_FILE}"
    if metadata.get("format") == EXPORT_FORMAT:
        return None
    if isinstance(metadata.get("artifacts"), dict) and PARITY_FILE in entries:
        return None
    return f"is not a kerasrnn export (its {METADATA_FILE} does not say so)"


def not_an_onnx_export(path: str | os.PathLike) -> str | None:
    """Why ``--overwrite`` must not replace the file ``path``; None if it is an ONNX file kerasrnn exported
    (its ``metadata_props`` hold the export's metadata under ``kerasrnn``)."""
    try:
        import onnx
    except ImportError:
        raise ExportError("ONNX export needs onnx: pip install onnx (or kerasrnn[onnx])") from None
    try:
        proto = onnx.load(str(path), load_external_data=False)
    except Exception:  # noqa: BLE001 - any parse failure: not an ONNX model
        return "is not a kerasrnn ONNX export (not an ONNX model)"
    props = {prop.key: prop.value for prop in proto.metadata_props}
    try:
        metadata = json.loads(props.get(ONNX_METADATA_KEY, ""))
    except ValueError:
        metadata = None
    if isinstance(metadata, dict) and metadata.get("format") == EXPORT_FORMAT:
        return None
    return "is not a kerasrnn ONNX export (no kerasrnn metadata)"


def check_destination(path: str | os.PathLike, overwrite: bool = False) -> Path:
    """Fails fast (without creating anything) if ``path`` cannot receive an export; returns it absolute.

    A ``path`` ending in ``.onnx`` is one ONNX file; any other is a directory.

    Raises:
        ExportError: ``path`` exists (and not ``overwrite``), is not what may
            be replaced (see :func:`not_an_export`, :func:`not_an_onnx_export`),
            is not a directory (a file), or its nearest existing ancestor is
            not a writable directory.
    """
    single = is_single_file(path)
    try:
        if single:
            checked = check_new_file(path, WHAT, overwrite=overwrite, create_parents=True)
        else:
            checked = check_new_directory(path, WHAT, existing="replace" if overwrite else "refuse")
    except DestinationError as error:
        raise export_error(error) from None
    if overwrite and checked.exists():
        reason = not_an_onnx_export(checked) if single else not_an_export(checked)
        if reason:
            replaces = "an earlier kerasrnn ONNX export" if single else "a kerasrnn export or an empty directory"
            raise ExportError(f"{WHAT} {path} cannot be overwritten: it {reason}; overwrite replaces only {replaces}")
    return checked


# --------------------------------------------------------------------------- #
# One writer, no leftovers
# --------------------------------------------------------------------------- #


def lock(path: str | os.PathLike) -> WriterLock:
    """Takes the lock of the destination ``path`` (creating its missing parent directories); release it
    when done.

    Raises:
        ExportError: another process is writing ``path`` (one line, naming
            it), or the lock file cannot be created.
    """
    writer_lock = WriterLock.beside(path, f"{WHAT} {path}")
    try:
        return writer_lock.acquire()
    except LockedError as error:
        raise ExportError(str(error)) from None
    except OSError as error:
        raise ExportError(
            f"cannot write {WHAT} {path}: cannot create its lock file {writer_lock.path}: {error.strerror or error}"
        ) from None


def remove_leftovers(path: str | os.PathLike) -> list[Path]:
    """Removes what killed exports left beside ``path`` (in its parent directory); returns it.

    Temporary directories and ``.onnx`` temporary files named after a
    process that is gone, the previous export they were replacing put back
    if it was renamed away and never replaced, and lock files nobody holds.
    Anything of a live process stays, and so does anything of another
    destination whose lock is held. The caller holds ``path``'s lock.
    """
    path = Path(os.path.abspath(Path(path).expanduser()))
    parent = path.parent

    def in_use(destination: Path | None) -> bool:
        # Another destination whose lock is held: its writer may live in another pid namespace.
        return destination is not None and destination != path and held_beside(destination)

    removed = atomic.remove_abandoned(parent, file_suffixes=(ONNX_SUFFIX,), in_use=in_use)
    removed += remove_abandoned_locks(parent)
    for leftover in removed:
        logger.debug(f"  removed {leftover}, left by an export that was killed")
    return removed


def remove_new_staging(path: str | os.PathLike, before: set[Path]) -> None:
    """Removes the temporary directories of exports to ``path`` that are not in ``before``.

    For a worker process that died (killed, out of memory) and could not
    clean up after itself.
    """
    for leftover in staging_directories(path) - before:
        shutil.rmtree(leftover, ignore_errors=True)


# --------------------------------------------------------------------------- #
# Staging
# --------------------------------------------------------------------------- #


class StagedFile:
    """The work directory of an export to one ONNX file ``final``, and the file's atomic write.

    The artifact is made and checked in a temporary directory beside
    ``final`` (named as a :class:`~kerasrnn.storage.atomic.StagedDirectory`'s,
    after this process); :meth:`commit` writes ``final`` atomically and
    removes the directory; :meth:`discard` only removes it (and the parent
    directories this object made).
    """

    def __init__(self, final: str | os.PathLike) -> None:
        self.final = Path(final)
        self.created: list[Path] = []
        missing = []
        parent = self.final.parent
        while not parent.exists():
            missing.append(parent)
            parent = parent.parent
        try:
            for directory in reversed(missing):
                directory.mkdir()
                self.created.append(directory)
            self.path: Path = atomic.make_staging_directory(self.final)
        except OSError as error:
            self._remove_created()
            raise ExportError(f"cannot write {WHAT} {self.final}: {error.strerror or error}") from None

    def commit(self, write: Callable[[Path], Any]) -> Path:
        """``write(tmp)`` writes the file; it is renamed to ``final`` (atomically replacing what is there)."""
        try:
            atomic.write_with(self.final, write)
        except OSError as error:
            raise ExportError(f"cannot write {WHAT} {self.final}: {error.strerror or error}") from None
        self.discard()
        return self.final

    def discard(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
        self._remove_created()

    def _remove_created(self) -> None:
        for directory in reversed(self.created):
            try:
                directory.rmdir()
            except OSError:
                break
        self.created = []


def stage(path: str | os.PathLike, overwrite: bool = False) -> StagedDirectory | StagedFile:
    """A :class:`~kerasrnn.storage.atomic.StagedDirectory` for an export to ``path``
    (a :class:`StagedFile` for a ``.onnx`` path).

    Raises:
        ExportError: see :func:`check_destination`; or the temporary
            directory cannot be made.
    """
    final = check_destination(path, overwrite)
    if is_single_file(final):
        return StagedFile(final)
    try:
        return StagedDirectory(final, existing="replace" if overwrite else "refuse", what=WHAT)
    except DestinationError as error:
        raise export_error(error) from None


def commit(staging: StagedDirectory, overwrite: bool = False) -> Path:
    """Renames the staged export into place, after checking its destination again (what is
    there now must still be replaceable).

    Raises:
        ExportError: the destination is no longer what may be replaced, or
            the rename failed (the previous export, if any, is kept).
    """
    check_destination(staging.final, overwrite)
    try:
        return staging.commit()
    except DestinationError as error:
        raise export_error(error) from None
