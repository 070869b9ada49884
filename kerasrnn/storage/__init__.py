"""Where kerasrnn writes: crash-safe writes and up-front destination checks.

* :mod:`kerasrnn.storage.atomic`: files written under a temporary name and
  renamed into place (:func:`~kerasrnn.storage.atomic.write_json`,
  :func:`~kerasrnn.storage.atomic.write_with` for writers that take a path,
  ...), and :class:`~kerasrnn.storage.atomic.StagedDirectory` for a whole
  directory;
* :mod:`kerasrnn.storage.destinations`: "can this path be created / written?"
  (:func:`~kerasrnn.storage.destinations.check_new_directory`,
  :func:`~kerasrnn.storage.destinations.check_new_file`,
  :func:`~kerasrnn.storage.destinations.check_outside`), raising
  :class:`~kerasrnn.storage.destinations.DestinationError`;
* :mod:`kerasrnn.storage.locks`: :class:`~kerasrnn.storage.locks.WriterLock`,
  so that the second of two writers of one place fails before touching it.

Every temporary name carries the pid of the process that made it, so that
:func:`~kerasrnn.storage.atomic.remove_abandoned` removes what a killed writer
left and never what a live one is writing.

Training (run directories, checkpoints), export and bench all use these.
Standard library and numpy only.
"""

from kerasrnn.storage.atomic import (
    StagedDirectory,
    remove_abandoned,
    remove_stale_temporaries,
    write_atomic,
    write_bytes,
    write_json,
    write_npz,
    write_text,
    write_with,
)
from kerasrnn.storage.destinations import (
    DestinationError,
    Problem,
    check_new_directory,
    check_new_file,
    check_outside,
)
from kerasrnn.storage.locks import LockedError, WriterLock

__all__ = [
    "DestinationError",
    "LockedError",
    "Problem",
    "StagedDirectory",
    "WriterLock",
    "check_new_directory",
    "check_new_file",
    "check_outside",
    "remove_abandoned",
    "remove_stale_temporaries",
    "write_atomic",
    "write_bytes",
    "write_json",
    "write_npz",
    "write_text",
    "write_with",
]
