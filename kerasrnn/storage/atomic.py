"""Crash-safe writes: a temporary sibling, flushed to disk, then renamed into place.

``os.replace`` is atomic on POSIX (and on Windows within one volume), so a
reader -- or a run resumed after ``kill -9`` -- sees either the old file or
the complete new one, never a partial one. Three forms:

* :func:`write_atomic` (and :func:`write_bytes`, :func:`write_text`,
  :func:`write_json`, :func:`write_npz`): the caller writes to an open binary
  handle;
* :func:`write_with`: the caller's function writes to a *path* (for writers
  that only take one, e.g. ``model.save(path)`` or ``onnx.save(proto, path)``);
  the temporary path keeps the file's suffix, which such writers often check;
* :class:`StagedDirectory`: a whole directory, filled under a temporary name
  beside its destination and renamed into place by :meth:`StagedDirectory.commit`
  (or removed by :meth:`StagedDirectory.discard`).
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from kerasrnn.storage.destinations import (
    DestinationError,
    Existing,
    Problem,
    check_new_directory,
)

TMP_SUFFIX = ".tmp"
#: ``.NAME.tmp-PID-XXXXXXXX``: the name of a :class:`StagedDirectory` beside ``NAME``
#: (``PID``: the process that fills it; older versions wrote ``.NAME.tmp-XXXXXXXX``).
STAGING_INFIX = ".tmp-"
#: ``.NAME.old-PID-XXXXXXXX``: the previous directory while it is being replaced.
BACKUP_INFIX = ".old-"
# A write_with temporary: ".model.1234.tmp.keras" (and the older ".model-1234.tmp.keras").
_SUFFIXED_TMP = re.compile(r"\..+[.-]\d+\.tmp\.[A-Za-z0-9]+")
# The pid in a temporary's name: a file of write_atomic (".state.json.1234.tmp") or
# write_with (".model.1234.tmp.keras", ".model-1234.tmp.keras"), a staged directory
# (".out.tmp-1234-abcd_123") or its backup (".out.old-1234-abcd_123").
_FILE_OWNER = re.compile(r"\.(?P<stem>.+)[.-](?P<pid>\d+)\.tmp(?P<suffix>\.[A-Za-z0-9]+)?")
_DIRECTORY_OWNER = re.compile(r"\.(?P<final>.+)\.(?P<kind>tmp|old)-(?P<pid>\d+)-[A-Za-z0-9_]+")

PathLike = str | os.PathLike


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


def _fsync_file(path: Path) -> None:
    try:
        with open(path, "rb") as handle:
            os.fsync(handle.fileno())
    except OSError:  # not a regular file (a writer made a directory), or no fsync here
        pass


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        try:
            path.unlink()
        except FileNotFoundError:
            pass


def write_atomic(path: PathLike, write: Callable[[io.BufferedWriter], Any]) -> Path:
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
    except BaseException as error:
        try:
            tmp.unlink()
        except FileNotFoundError:
            pass
        if isinstance(error, OSError) and error.filename is None:  # a full disk names no file by itself
            raise OSError(error.errno, error.strerror or str(error), str(path)) from error
        raise
    _fsync_directory(path.parent)
    return path


def write_with(path: PathLike, write: Callable[[Path], Any]) -> Path:
    """Call ``write(tmp)`` with a temporary sibling path of ``path``, then rename it to ``path``.

    For writers that take a path rather than a handle::

        write_with(run / "model.keras", model.save)
        write_with(out / "model.onnx", lambda tmp: onnx.save(proto, str(tmp)))

    The temporary name keeps ``path``'s suffix (``.model.1234.tmp.keras``) for
    writers that check it, and is removed (file or directory) if ``write`` or
    the rename fails; the error propagates unchanged.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}{TMP_SUFFIX}{path.suffix}")
    try:
        write(tmp)
        _fsync_file(tmp)
        os.replace(tmp, path)
    except BaseException as error:
        _remove(tmp)
        if isinstance(error, OSError) and error.filename is None:  # a full disk names no file by itself
            raise OSError(error.errno, error.strerror or str(error), str(path)) from error
        raise
    _fsync_directory(path.parent)
    return path


def write_bytes(path: PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically."""
    return write_atomic(path, lambda handle: handle.write(data))


def write_text(path: PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    return write_bytes(path, text.encode("utf-8"))


def write_json(path: PathLike, value: Any) -> Path:
    """Write ``value`` as indented, key-sorted JSON (numpy scalars and arrays, paths allowed)."""
    return write_text(path, json.dumps(value, indent=2, sort_keys=True, default=_json_default) + "\n")


def write_npz(path: PathLike, arrays: dict[str, np.ndarray]) -> Path:
    """Write ``arrays`` as an uncompressed ``.npz`` atomically."""
    return write_atomic(path, lambda handle: np.savez(handle, **arrays))


def is_temporary(name: str) -> bool:
    """Whether a file name is one of :func:`write_atomic`'s or :func:`write_with`'s temporaries."""
    return name.startswith(".") and (name.endswith(TMP_SUFFIX) or _SUFFIXED_TMP.fullmatch(name) is not None)


def remove_stale_temporaries(directory: PathLike, *, keep_live: bool = False) -> list[Path]:
    """Delete temporary files that an interrupted :func:`write_atomic` or :func:`write_with` left.

    Without ``keep_live`` every such file goes: for a directory that only the
    caller writes (it holds the directory's :class:`~kerasrnn.storage.locks.WriterLock`).
    With ``keep_live`` those whose owning process still runs stay.
    """
    removed = []
    directory = Path(directory)
    if directory.is_dir():
        for path in sorted(directory.iterdir()):
            if not is_temporary(path.name) or path.is_dir():
                continue
            if keep_live and not _abandoned(path.name):
                continue
            try:
                path.unlink()
                removed.append(path)
            except OSError:
                pass
    return removed


def owner_pid(name: str) -> int | None:
    """The id of the process that made the temporary ``name`` (a file of :func:`write_atomic`
    or :func:`write_with`, a :class:`StagedDirectory` or its backup); None for any other name."""
    if not name.startswith("."):
        return None
    match = _DIRECTORY_OWNER.fullmatch(name) or _FILE_OWNER.fullmatch(name)
    return int(match["pid"]) if match else None


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` exists and has not ended (a zombie has ended).

    In doubt (no permission to signal it, an odd pid) the answer is True:
    callers only ever remove what belongs to a process that is gone.
    """
    if pid <= 0:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: it exists, under another user
        return True
    try:  # Linux: a killed process nobody reaped yet is a zombie
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _abandoned(name: str) -> bool:
    pid = owner_pid(name)
    return pid is not None and pid != os.getpid() and not process_alive(pid)


def temporary_destination(path: PathLike) -> Path | None:
    """The path that the temporary ``path`` was to become (``.out.tmp-1-ab`` -> ``out``,
    ``.m.7.tmp.onnx`` -> ``m.onnx``); None if ``path`` is not a temporary with a pid."""
    path = Path(path)
    staged = _DIRECTORY_OWNER.fullmatch(path.name)
    if staged:
        return path.with_name(staged["final"])
    written = _FILE_OWNER.fullmatch(path.name)
    if written:
        return path.with_name(written["stem"] + (written["suffix"] or ""))
    return None


def remove_abandoned(
    directory: PathLike,
    *,
    file_suffixes: tuple[str, ...] | None = None,
    in_use: Callable[[Path], bool] | None = None,
) -> list[Path]:
    """Remove what writers that are gone (``kill -9``, out of memory) left in ``directory``.

    Only temporaries whose name carries the pid of a process that no longer
    runs are touched (:func:`owner_pid`, :func:`process_alive`): never those
    of a live writer, nor older names without a pid, nor anything else.

    * a :class:`StagedDirectory`'s temporary directory is removed;
    * its backup (``.NAME.old-PID-*``: the previous directory, renamed away
      just before the new one was to be renamed in) is renamed back to
      ``NAME`` if ``NAME`` is missing -- the writer died between its two
      renames -- and removed otherwise;
    * a temporary file of :func:`write_atomic` / :func:`write_with` is
      removed (only those ending in one of ``file_suffixes``, when given).

    ``in_use(destination)`` may spare more: the temporaries of a destination
    it says is being written (e.g. its lock is held: a writer in another pid
    namespace, whose pid means nothing here).

    Returns:
        The paths removed or restored.
    """
    directory = Path(directory)
    try:
        entries = sorted(directory.iterdir())
    except OSError:
        return []
    done = []
    for path in entries:
        if not _abandoned(path.name):
            continue
        if in_use is not None and in_use(temporary_destination(path)):
            continue
        staged = _DIRECTORY_OWNER.fullmatch(path.name)
        try:
            if staged and path.is_dir() and not path.is_symlink():
                final = directory / staged["final"]
                if staged["kind"] == "old" and not (final.exists() or final.is_symlink()):
                    os.rename(path, final)
                else:
                    shutil.rmtree(path)
            elif not staged and is_temporary(path.name) and not path.is_dir():
                if file_suffixes is not None and not path.name.endswith(tuple(file_suffixes)):
                    continue
                path.unlink()
            else:
                continue
        except OSError:
            continue
        done.append(path)
    return done


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


# --------------------------------------------------------------------------- #
# Directories
# --------------------------------------------------------------------------- #


def staging_directories(final: PathLike) -> set[Path]:
    """The :class:`StagedDirectory` temporaries of ``final`` that exist now (for clean-up
    after a process that was killed before it could remove its own)."""
    final = Path(final)
    prefix = f".{final.name}{STAGING_INFIX}"
    try:
        return {p for p in final.parent.iterdir() if p.name.startswith(prefix)}
    except OSError:
        return set()


def make_staging_directory(final: PathLike) -> Path:
    """Create the temporary directory ``.NAME.tmp-PID-XXXXXXXX`` beside ``final`` (whose
    parent must exist): private (0700) and named after this process, so that
    :func:`remove_abandoned` can tell whether its writer is gone."""
    final = Path(final)
    return Path(tempfile.mkdtemp(prefix=f".{final.name}{STAGING_INFIX}{os.getpid()}-", dir=final.parent))


class StagedDirectory:
    """A temporary directory beside ``final``, renamed to ``final`` on :meth:`commit`.

    Creating it checks ``final`` (:func:`~kerasrnn.storage.destinations.check_new_directory`
    with ``existing`` and ``what``), creates missing parent directories and the
    temporary directory ``.NAME.tmp-PID-XXXXXXXX`` beside ``final``
    (:func:`make_staging_directory`). Fill
    :attr:`path`, then :meth:`commit`: an existing ``final`` (``existing`` =
    ``"replace"`` or an empty one with ``"empty"``) is replaced only then,
    and restored if the rename fails. :meth:`discard` removes the temporary
    directory and the parents this object created. As a context manager it
    commits on a clean exit (unless already committed or discarded) and
    discards on an exception.

    Raises:
        DestinationError: ``final`` cannot receive the directory (see
            :func:`check_new_directory`), or creating / renaming failed.
    """

    def __init__(
        self, final: PathLike, *, existing: Existing = "refuse", what: str = "the directory", verb: str = "write"
    ) -> None:
        self.what = what
        self.verb = verb
        self.final: Path = check_new_directory(final, what, existing=existing, verb=verb)
        self.created: list[Path] = []  # parent directories this object created
        self.done = False
        missing = []
        parent = self.final.parent
        while not parent.exists():
            missing.append(parent)
            parent = parent.parent
        try:
            for directory in reversed(missing):
                directory.mkdir()
                self.created.append(directory)
            self.path: Path = make_staging_directory(self.final)
        except OSError as error:
            self._remove_created()
            raise DestinationError(
                f"cannot {verb} {what} {self.final}: {error.strerror or error}",
                path=self.final,
                problem=Problem.OS_ERROR,
            ) from None

    def commit(self) -> Path:
        """Rename the temporary directory to ``final`` (replacing what is there); returns ``final``."""
        # mkdtemp made it private (0700); give it the permissions of a new directory.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(self.path, 0o777 & ~umask)
        backup = None
        try:
            if self.final.exists() or self.final.is_symlink():
                prefix = f".{self.final.name}{BACKUP_INFIX}{os.getpid()}-"
                backup = Path(tempfile.mkdtemp(prefix=prefix, dir=self.final.parent))
                os.rmdir(backup)
                os.rename(self.final, backup)
            os.rename(self.path, self.final)
        except OSError as error:
            if backup is not None and backup.exists() and not self.final.exists():
                os.rename(backup, self.final)
            raise DestinationError(
                f"cannot move {self.what} into {self.final}: {error.strerror or error}",
                path=self.final,
                problem=Problem.OS_ERROR,
            ) from None
        self.done = True
        if backup is not None:
            shutil.rmtree(backup, ignore_errors=True)
        _fsync_directory(self.final.parent)
        return self.final

    def discard(self) -> None:
        """Remove the temporary directory and the parent directories this object created."""
        shutil.rmtree(self.path, ignore_errors=True)
        self._remove_created()
        self.done = True

    def _remove_created(self) -> None:
        for directory in reversed(self.created):
            try:
                directory.rmdir()
            except OSError:
                break
        self.created = []

    def __enter__(self) -> StagedDirectory:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if self.done:
            return
        if kind is None:
            try:
                self.commit()
            except BaseException:
                self.discard()
                raise
        else:
            self.discard()
