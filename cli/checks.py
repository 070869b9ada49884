"""Checks a command makes before it imports Keras, so that a mistake costs no start-up time.

Each delegates to the library where the library has the check
(:meth:`~kerasrnn.training.run_dir.RunDir.open`,
:mod:`kerasrnn.storage.destinations`) and only chooses the exit status and
the hint: a usage error (:class:`~kerasrnn.errors.ConfigError`, exit 2) or a
failure (exit 1).  Nothing here imports Keras.
"""

from __future__ import annotations

import os
from typing import Any

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


def check_resume_overrides(path: str | os.PathLike, overrides: dict[str, Any]) -> None:
    """``fit --resume RUN --lr X`` (``--epochs``, ``--time-budget``): the new values are valid for the run.

    Raises:
        ConfigError: An invalid value (as :meth:`RunConfig.resolve` says).
    """
    import dataclasses

    from kerasrnn.training.run_config import RunConfig
    from kerasrnn.training.run_dir import RunDir

    config = RunConfig.from_dict(RunDir.open(path).read_record()["config"])
    if "epochs" in overrides:
        config = dataclasses.replace(config, iterations=None)  # as the library does: epochs replace iterations
    dataclasses.replace(config, **overrides).resolve()


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


def check_output_file(path: str | os.PathLike, option: str, reads: dict[str, str | os.PathLike] | None = None) -> None:
    """An output file (``predict --output``) can be written; an existing file is replaced.

    Args:
        path: The output file.
        option: How messages name it (``"--output"``).
        reads: Description -> path of what the command reads (``{"the input
            file": ..., "the run directory": ...}``): the output must not be,
            be inside or hold any of them.

    Raises:
        ConfigError: It is, is inside or holds a path of ``reads`` (exit 2).
        click.ClickException: It cannot be written (exit 1).
    """
    from kerasrnn.storage.destinations import DestinationError, check_new_file, check_outside

    try:
        check_outside(path, option, dict(reads or {}))
    except DestinationError as error:
        raise ConfigError(str(error)) from None
    try:
        check_new_file(path, option, overwrite=True)
    except DestinationError as error:
        raise click.ClickException(str(error)) from None
