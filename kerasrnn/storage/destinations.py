"""Can this path be written or created? One check for every output of kerasrnn.

Run before any work (loading data, training, converting), so that a long job
never fails at its very end for an output path it could not write:

* :func:`check_new_directory`: a directory a job creates and fills (a run
  directory, an export);
* :func:`check_new_file`: one file a job writes (a benchmark's JSON);
* :func:`check_outside`: an output is neither, nor inside, a path the job
  reads (its input file, the run directory it uses).

Both create nothing and raise :class:`DestinationError` (a ``ValueError``)
whose message is one line naming the path and the problem; its
:attr:`~DestinationError.problem` lets a caller choose its own error type,
exit status or hint (e.g. ``--resume`` for a non-empty run directory).
"""

from __future__ import annotations

import enum
import os
from pathlib import Path
from typing import Literal

#: What to do with a directory that exists already: ``"refuse"`` it,
#: accept it if ``"empty"``, or accept it to ``"replace"`` it.
Existing = Literal["refuse", "empty", "replace"]


class Problem(str, enum.Enum):
    """Why a destination was refused."""

    EXISTS = "exists"  # it exists and must not
    NOT_A_DIRECTORY = "not_a_directory"  # a directory was wanted; something else is there
    NOT_EMPTY = "not_empty"  # an existing directory that is not empty
    IS_A_DIRECTORY = "is_a_directory"  # a file was wanted; a directory is there
    NO_PARENT = "no_parent"  # its directory does not exist (and is not created)
    PARENT_NOT_A_DIRECTORY = "parent_not_a_directory"  # something on the way is a file
    NOT_WRITABLE = "not_writable"  # no permission
    OS_ERROR = "os_error"  # creating or renaming failed (see the message)
    INSIDE_INPUT = "inside_input"  # it is, or is inside, a path the job reads


class DestinationError(ValueError):
    """A path that cannot receive what a job would write there.

    Attributes:
        path: The destination.
        problem: A :class:`Problem`.
        blocker: The existing path at fault (the destination itself, or the
            ancestor directory that is missing, not a directory or not
            writable), where there is one.
    """

    def __init__(self, message: str, *, path: Path, problem: Problem, blocker: Path | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.problem = problem
        self.blocker = blocker


def _writable(directory: Path) -> bool:
    return os.access(directory, os.W_OK | os.X_OK)


def _nearest_existing(path: Path) -> Path:
    ancestor = path.parent
    while not (ancestor.exists() or ancestor.is_symlink()) and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    return ancestor


def _check_parent(path: Path, what: str, verb: str, create_parents: bool) -> None:
    """The directory that will hold ``path`` exists (or can be created) and is writable."""
    absolute = Path(os.path.abspath(path))
    ancestor = _nearest_existing(absolute) if create_parents else absolute.parent
    if not (ancestor.exists() or ancestor.is_symlink()):
        raise DestinationError(
            f"{what} {path}: directory {ancestor} does not exist",
            path=path,
            problem=Problem.NO_PARENT,
            blocker=ancestor,
        )
    if not ancestor.is_dir():
        raise DestinationError(
            f"cannot {verb} {what} {path}: {ancestor} is not a directory",
            path=path,
            problem=Problem.PARENT_NOT_A_DIRECTORY,
            blocker=ancestor,
        )
    if not _writable(ancestor):
        raise DestinationError(
            f"cannot {verb} {what} {path}: {ancestor} is not writable",
            path=path,
            problem=Problem.NOT_WRITABLE,
            blocker=ancestor,
        )


def _check_existing_directory(path: Path, what: str, existing: Existing, verb: str) -> None:
    if existing == "refuse":
        raise DestinationError(f"{what} {path} already exists", path=path, problem=Problem.EXISTS, blocker=path)
    if not path.is_dir():
        kind = "a file" if path.is_file() else "not a directory"
        raise DestinationError(
            f"{what} {path} exists and is {kind}", path=path, problem=Problem.NOT_A_DIRECTORY, blocker=path
        )
    if existing == "empty":
        if any(path.iterdir()):
            raise DestinationError(
                f"{what} {path} exists and is not empty", path=path, problem=Problem.NOT_EMPTY, blocker=path
            )
        if not _writable(path):
            raise DestinationError(
                f"cannot {verb} {what} {path}: permission denied",
                path=path,
                problem=Problem.NOT_WRITABLE,
                blocker=path,
            )


def check_new_directory(
    path: str | os.PathLike, what: str = "the directory", *, existing: Existing = "empty", verb: str = "write"
) -> Path:
    """Fail fast, creating nothing, if ``path`` cannot become a new directory.

    ``path`` must not exist -- or, per ``existing``, may be an empty directory
    (``"empty"``, the default) or any directory that will be replaced
    (``"replace"``). Missing parents may be created: the nearest existing
    ancestor must be a writable directory.

    Args:
        path: The directory.
        what: How messages name it: ``"--out"``, ``"the export"``,
            ``"the run directory"``.
        existing: ``"refuse"``, ``"empty"`` or ``"replace"``.
        verb: The verb of permission messages: ``"cannot {verb} {what} {path}:
            ..."`` (``"write"``, ``"create"``).

    Returns:
        ``path``, user-expanded and absolute.

    Raises:
        DestinationError: e.g. ``"the run directory runs/a exists and is not
            empty"`` (:attr:`Problem.NOT_EMPTY`), ``"the export out already
            exists"`` (:attr:`Problem.EXISTS`), ``"cannot write the export
            a/out: a is not a directory"``.
    """
    given = Path(path).expanduser()
    if given.exists() or given.is_symlink():
        _check_existing_directory(given, what, existing, verb)
    _check_parent(given, what, verb, create_parents=True)
    return given.absolute()


def check_new_file(
    path: str | os.PathLike,
    what: str = "the file",
    *,
    overwrite: bool = False,
    create_parents: bool = False,
    verb: str = "write",
) -> Path:
    """Fail fast, creating nothing, if the file ``path`` cannot be written.

    ``path`` must not be a directory, nor an existing file unless
    ``overwrite``; its directory must exist (or, with ``create_parents``,
    its nearest existing ancestor) and be writable.

    Returns:
        ``path``, user-expanded and absolute.

    Raises:
        DestinationError: e.g. ``"--out results is a directory"``
            (:attr:`Problem.IS_A_DIRECTORY`), ``"--out a/b.json: directory a
            does not exist"`` (:attr:`Problem.NO_PARENT`).
    """
    given = Path(path).expanduser()
    if given.is_dir():
        raise DestinationError(
            f"{what} {given} is a directory", path=given, problem=Problem.IS_A_DIRECTORY, blocker=given
        )
    if (given.exists() or given.is_symlink()) and not overwrite:
        raise DestinationError(f"{what} {given} already exists", path=given, problem=Problem.EXISTS, blocker=given)
    _check_parent(given, what, verb, create_parents)
    return given.absolute()


def check_outside(path: str | os.PathLike, what: str, protected: dict[str, str | os.PathLike]) -> Path:
    """Refuse an output that is, or is inside, or holds, a path the job reads.

    Args:
        path: The output.
        what: How the message names it (``"--output"``, ``"the export"``).
        protected: Description -> path of what the job reads, e.g.
            ``{"the input file": input, "the run directory": run}``.

    Returns:
        ``path``, resolved (symbolic links followed).

    Raises:
        DestinationError: :attr:`Problem.INSIDE_INPUT`, e.g. ``"--output
            runs/a/model.keras is inside the run directory runs/a; write it
            elsewhere"``.
    """
    resolved = Path(path).expanduser().resolve()
    for description, protected_path in protected.items():
        guarded = Path(protected_path).expanduser().resolve()
        if resolved == guarded:
            relation = "is"
        elif guarded in resolved.parents:
            relation = "is inside"
        elif resolved in guarded.parents:
            relation = "holds"
        else:
            continue
        raise DestinationError(
            f"{what} {path} {relation} {description} {protected_path}; write it elsewhere",
            path=Path(path),
            problem=Problem.INSIDE_INPUT,
            blocker=guarded,
        )
    return resolved
