"""Errors of the training side, each with a one-line message for the CLI.

* :class:`ConfigError` -- the options are wrong (``kerasrnn`` exits with 2).
* :class:`RunDirError` -- a run directory cannot be used: it exists already
  (a usage error, exit 2) or cannot be written / read (exit 1).
* :class:`TrainingError` -- training or evaluation failed (exit 1), e.g.
  :class:`NaNLossError`.

Data problems raise :class:`kerasrnn.data.DataError` (exit 1).
"""

from __future__ import annotations


class ConfigError(ValueError):
    """An invalid option or combination of options (a usage error)."""

    exit_code = 2


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
