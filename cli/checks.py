"""Checks a command makes before it imports Keras, so that a mistake costs no start-up time.

Each delegates to the library where the library has the check
(:meth:`~kerasrnn.training.run_dir.RunDir.open`,
:mod:`kerasrnn.storage.destinations`) and only chooses the exit status and
the hint: a usage error (:class:`~kerasrnn.errors.ConfigError`, exit 2) or a
failure (exit 1).  Nothing here imports Keras.
"""

from __future__ import annotations

import os

import click

from kerasrnn.errors import ConfigError, RunDirError, RunDirExistsError


def check_run_dir(path: str | os.PathLike) -> None:
    """A run directory given on the command line exists and has a ``config.json``.

    Raises:
        ConfigError: If not (a usage error: the user named a wrong path).
    """
    from kerasrnn.training.run_dir import RunDir

    try:
        RunDir.open(path)
    except RunDirError as error:
        raise ConfigError(str(error)) from None


def check_input_file(path: str | os.PathLike, what: str, *, directory_ok: bool = False) -> None:
    """An input file given on the command line exists (``what``: ``"data file"``, ``"input file"`` ...).

    Raises:
        ConfigError: ``"<what> not found: <path>"``.
    """
    found = os.path.exists(path) if directory_ok else os.path.isfile(path)
    if not found:
        raise ConfigError(f"{what} not found: {path}")


def check_new_run_dir(out: str | os.PathLike) -> None:
    """``fit --out``: a new or empty directory that can be created and written.

    Raises:
        RunDirExistsError: It exists and is not an empty directory (exit 2),
            with the ``--resume`` hint.
        RunDirError: It cannot be created or written (exit 1).
    """
    from kerasrnn.storage.destinations import (
        DestinationError,
        Problem,
        check_new_directory,
    )

    verb = "write" if os.path.exists(out) else "create"
    try:
        check_new_directory(out, "the run directory", existing="empty", verb=verb)
    except DestinationError as error:
        if error.problem == Problem.NOT_EMPTY:
            raise RunDirExistsError(
                f"--out {out} exists and is not empty; give a new directory, or continue that run with --resume {out}"
            ) from None
        if error.problem == Problem.NOT_A_DIRECTORY:
            kind = "a file" if os.path.isfile(out) else "not a directory"
            raise RunDirExistsError(f"--out {out} exists and is {kind}; give a new directory") from None
        raise RunDirError(f"{error}; give a writable --out") from None


def check_output_file(path: str | os.PathLike, option: str) -> None:
    """An output file (``predict --output``) can be written; an existing file is replaced.

    Raises:
        click.ClickException: If not (exit 1).
    """
    from kerasrnn.storage.destinations import DestinationError, check_new_file

    try:
        check_new_file(path, option, overwrite=True)
    except DestinationError as error:
        raise click.ClickException(str(error)) from None
