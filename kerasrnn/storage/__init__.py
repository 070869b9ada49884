"""Where kerasrnn writes: crash-safe writes and up-front destination checks.

* :mod:`kerasrnn.storage.atomic`: files written under a temporary name and
  renamed into place (:func:`~kerasrnn.storage.atomic.write_json`,
  :func:`~kerasrnn.storage.atomic.write_with` for writers that take a path,
  ...), and :class:`~kerasrnn.storage.atomic.StagedDirectory` for a whole
  directory;
* :mod:`kerasrnn.storage.destinations`: "can this path be created / written?"
  (:func:`~kerasrnn.storage.destinations.check_new_directory`,
  :func:`~kerasrnn.storage.destinations.check_new_file`), raising
  :class:`~kerasrnn.storage.destinations.DestinationError`.

Training (run directories, checkpoints), export and bench all use these.
Standard library and numpy only.
"""

from kerasrnn.storage.atomic import (
    StagedDirectory,
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
)

__all__ = [
    "DestinationError",
    "Problem",
    "StagedDirectory",
    "check_new_directory",
    "check_new_file",
    "remove_stale_temporaries",
    "write_atomic",
    "write_bytes",
    "write_json",
    "write_npz",
    "write_text",
    "write_with",
]
