"""kerasrnn's error types, each raised with a one-line message a user can act on.

* :class:`ConfigError` -- the options are wrong (``kerasrnn`` exits with 2).
* :class:`DataError` -- data missing, malformed or inconsistent (exit 1).
* :class:`RunDirError` -- a run directory cannot be used: it exists already
  (a usage error, exit 2) or cannot be written / read (exit 1).
* :class:`TrainingError` -- training or evaluation failed (exit 1), e.g.
  :class:`NaNLossError`.

This module imports nothing: the CLI and the registry use it before Keras.
"""

from __future__ import annotations


class ConfigError(ValueError):
    """An invalid option or combination of options (a usage error)."""

    exit_code = 2


class DataError(ValueError):
    """Data that is missing, malformed or inconsistent.

    The message is a single line naming what was expected and what was found,
    so that it can be shown to a user of ``kerasrnn fit`` as is.
    """

    exit_code = 1


class RunDirError(RuntimeError):
    """A run directory that cannot be created, written or read."""

    exit_code = 1


class RunDirExistsError(RunDirError):
    """The output directory exists and is not empty (and this is no resume)."""

    exit_code = 2


class TrainingError(RuntimeError):
    """Training or evaluation failed."""

    exit_code = 1


class NaNLossError(TrainingError):
    """The training loss became NaN or infinite; the last good checkpoint is kept."""
