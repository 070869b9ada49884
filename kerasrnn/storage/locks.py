"""Exclusive locks for writers: the second of two processes writing one place fails before touching it.

A :class:`WriterLock` is an advisory ``flock`` on a small lock file.  The
operating system releases it when its process ends in any way (``kill -9``
included), so a lock never outlives its writer; the file itself may stay and
means nothing without a holder.  The file records the holder's pid for the
message the next writer sees.

On a platform without ``fcntl`` (Windows) the lock does nothing.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import TracebackType

try:
    import fcntl
except ImportError:  # pragma: no cover -- not on the platforms kerasrnn is tested on
    fcntl = None  # type: ignore[assignment]

#: The lock file of a directory that a job fills (a run directory).
LOCK_FILE = ".kerasrnn.lock"


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

    def __init__(self, path: str | os.PathLike, what: str) -> None:
        self.path = Path(path)
        self.what = what
        self._fd: int | None = None

    @classmethod
    def of_directory(cls, directory: str | os.PathLike, what: str) -> WriterLock:
        """The lock of a directory that a job writes into (its :data:`LOCK_FILE`)."""
        return cls(Path(directory) / LOCK_FILE, what)

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> WriterLock:
        """Take the lock or fail at once.

        Raises:
            LockedError: Another process holds it (its pid named when known).
            OSError: The lock file cannot be created.
        """
        if self._fd is not None or fcntl is None:
            return self
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_pid(fd)
            os.close(fd)
            by = f" (pid {holder})" if holder else ""
            raise LockedError(
                f"{self.what} is being written by another kerasrnn process{by}; wait for it to finish"
            ) from None
        except OSError:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is None:
            return
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> WriterLock:
        return self.acquire()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.release()


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode(errors="replace").strip()
        return int(text) if text else None
    except (OSError, ValueError):
        return None
