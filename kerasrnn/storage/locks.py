"""Exclusive locks for writers: the second of two processes writing one place fails before touching it.

A :class:`WriterLock` is an advisory ``flock`` on a small lock file.  The
operating system releases it when its process ends in any way (``kill -9``
included), so a lock never outlives its writer; the file itself may stay and
means nothing without a holder.  The file records the holder's pid for the
message the next writer sees.

Two kinds of lock file:

* :meth:`WriterLock.of_directory`: ``DIR/.kerasrnn.lock`` inside a directory
  that a job fills in place (a run directory); it stays;
* :meth:`WriterLock.beside`: ``PARENT/.NAME.kerasrnn-lock`` next to a
  destination that is written elsewhere and renamed into place (an export),
  so that it holds while the destination itself is missing or replaced.  Its
  parent directories are created if missing, and the lock file (and the
  parents it created, if left empty) is removed on release.  A writer killed
  with ``kill -9`` leaves the file; the next writer takes it over, and
  :func:`remove_abandoned_locks` removes those nobody holds.

On a platform without ``fcntl`` (Windows) the lock does nothing.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from types import TracebackType

try:
    import fcntl
except ImportError:  # pragma: no cover -- not on the platforms kerasrnn is tested on
    fcntl = None  # type: ignore[assignment]

#: The lock file of a directory that a job fills (a run directory).
LOCK_FILE = ".kerasrnn.lock"
#: ``.NAME.kerasrnn-lock``: the lock file beside a destination ``NAME`` (:meth:`WriterLock.beside`).
LOCK_SUFFIX = ".kerasrnn-lock"
#: How long a :meth:`WriterLock.beside` lock is tried before it counts as another writer's (seconds).
BRIEF_HOLD = 0.25


class LockedError(RuntimeError):
    """Another process holds the lock."""

    exit_code = 1


class WriterLock:
    """An exclusive, non-blocking lock on ``path`` (a lock file, created if missing).

    Use as a context manager, or :meth:`acquire` it for the rest of the
    process (a run directory during training)::

        with WriterLock(parent / ".out.lock", "the export out"):
            ...
    """

    def __init__(self, path: str | os.PathLike, what: str, *, remove: bool = False, make_parents: bool = False) -> None:
        """``remove``: delete the lock file on release; ``make_parents``: create its missing
        parent directories on acquire (and remove those left empty on release)."""
        self.path = Path(path)
        self.what = what
        self.remove = remove
        self.make_parents = make_parents
        self._fd: int | None = None
        self._created: list[Path] = []

    @classmethod
    def of_directory(cls, directory: str | os.PathLike, what: str) -> WriterLock:
        """The lock of a directory that a job writes into (its :data:`LOCK_FILE`)."""
        return cls(Path(directory) / LOCK_FILE, what)

    @classmethod
    def beside(cls, destination: str | os.PathLike, what: str) -> WriterLock:
        """The lock of ``destination`` (a file or directory that may not exist yet):
        ``.NAME.kerasrnn-lock`` in its parent directory, removed on release."""
        destination = Path(os.path.abspath(Path(destination).expanduser()))
        return cls(destination.parent / f".{destination.name}{LOCK_SUFFIX}", what, remove=True, make_parents=True)

    @property
    def held(self) -> bool:
        return self._fd is not None

    def fileno(self) -> int:
        """The lock file's descriptor while held (a child process that inherits it holds the lock too)."""
        if self._fd is None:
            raise ValueError(f"the lock {self.path} is not held")
        return self._fd

    def acquire(self) -> WriterLock:
        """Take the lock or fail at once.

        Raises:
            LockedError: Another process holds it (its pid named when known).
            OSError: The lock file cannot be created.
        """
        if self._fd is not None:
            return self
        if self.make_parents:
            self._make_parents()
        if fcntl is None:
            return self
        try:
            fd = _lock_file(self.path, check_same=self.remove, patience=BRIEF_HOLD if self.remove else 0.0)
        except _Busy as busy:
            self._remove_created()
            by = f" (pid {busy.holder})" if busy.holder else ""
            raise LockedError(
                f"{self.what} is being written by another kerasrnn process{by}; wait for it to finish"
            ) from None
        except OSError:
            self._remove_created()
            raise
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            if self.remove:
                # Unlinked while still held: a writer that opened this file meanwhile
                # finds, once it has the lock, that the path is no longer its file, and retries.
                try:
                    self.path.unlink()
                except OSError:
                    pass
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
        self._remove_created()

    def _make_parents(self) -> None:
        missing = []
        parent = self.path.parent
        while not (parent.exists() or parent.is_symlink()) and parent != parent.parent:
            missing.append(parent)
            parent = parent.parent
        for directory in reversed(missing):
            try:
                directory.mkdir()
            except FileExistsError:
                continue
            except OSError:
                self._remove_created()
                raise
            self._created.append(directory)

    def _remove_created(self) -> None:
        """The parent directories this lock created, deepest first, while they are empty."""
        for directory in reversed(self._created):
            try:
                directory.rmdir()
            except OSError:
                break
        self._created = []

    def __enter__(self) -> WriterLock:
        return self.acquire()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.release()


class _Busy(Exception):
    """Another process holds a lock (``holder``: its pid, when the lock file names it)."""

    def __init__(self, holder: int | None) -> None:
        super().__init__(holder)
        self.holder = holder


def _lock_file(path: Path, check_same: bool, patience: float = 0.0) -> int:
    """An open descriptor of ``path``, exclusively locked.

    With ``check_same`` (lock files that are removed on release) the lock is
    taken again if ``path`` was unlinked or replaced meanwhile, so that two
    writers never hold locks on two different files of one name. A lock
    still held after ``patience`` seconds is another writer's (the clean-up
    of :func:`held_beside` and :func:`remove_abandoned_locks` holds one for
    microseconds).

    Raises:
        _Busy: another process holds it.
    """
    deadline = time.monotonic() + patience
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_pid(fd)
            os.close(fd)
            if time.monotonic() < deadline:
                time.sleep(0.02)
                continue
            raise _Busy(holder) from None
        except OSError:
            os.close(fd)
            raise
        if not check_same:
            return fd
        try:
            here, mine = os.stat(path), os.fstat(fd)
            same = (here.st_dev, here.st_ino) == (mine.st_dev, mine.st_ino)
        except FileNotFoundError:
            same = False
        except OSError:
            os.close(fd)
            raise
        if same:
            return fd
        os.close(fd)


def held_beside(destination: str | os.PathLike) -> bool:
    """Whether a process holds the :meth:`WriterLock.beside` lock of ``destination``
    (this process's own locks count: ask only about destinations it does not hold)."""
    if fcntl is None:
        return False
    destination = Path(os.path.abspath(Path(destination).expanduser()))
    path = destination.parent / f".{destination.name}{LOCK_SUFFIX}"
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # no lock file: nobody holds it
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def remove_abandoned_locks(directory: str | os.PathLike) -> list[Path]:
    """Remove the :meth:`WriterLock.beside` lock files in ``directory`` that nobody holds
    (left by writers killed with ``kill -9``); returns them."""
    removed: list[Path] = []
    if fcntl is None:
        return removed
    try:
        entries = sorted(Path(directory).iterdir())
    except OSError:
        return removed
    for path in entries:
        if not (path.name.startswith(".") and path.name.endswith(LOCK_SUFFIX)) or not path.is_file():
            continue
        try:
            fd = _lock_file(path, check_same=True)
        except (_Busy, OSError):  # held, or not ours to open
            continue
        try:
            path.unlink()
            removed.append(path)
        except OSError:
            pass
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
    return removed


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode(errors="replace").strip()
        return int(text) if text else None
    except (OSError, ValueError):
        return None
