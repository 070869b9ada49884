"""Options shared by the commands, each defined once, and the ``fit`` options generated from ``RunConfig``.

Shared: :func:`backend_option`, :func:`debug_option`, :func:`quiet_option`,
:func:`json_option`, :func:`run_argument`.

Generated: :func:`config_options` makes one option per field of
:class:`~kerasrnn.training.run_config.RunConfig` whose metadata (made by
:func:`kerasrnn.training.run_config.option`) says ``cli=True``: its name is
the metadata's ``flag`` or ``--`` and the field name with hyphens, its value
goes to a parameter named as the field, its help, metavar, type (``int``,
``float``, ``str``) and ``choices`` come from the metadata, and its default
is ``None`` ("not given": the preset's or the data set's default applies).
A new field therefore appears in ``kerasrnn fit --help`` by itself.  Fields
with ``cli=False`` (``dataset``, ``layout``, ``preset``, ``backend``) are set
by hand-written options, given as *stand-ins* and placed where the field is.

Importing this module imports click only; the registry and ``RunConfig``
(NumPy) are imported when a decorator is built.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import click

from kerasrnn.cli import output

F = TypeVar("F", bound=Callable[..., Any])
#: A decorator that adds a parameter to a click command function.
Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]

CONTEXT_SETTINGS: dict[str, Any] = {"help_option_names": ["-h", "--help"], "max_content_width": 100}

_TYPES = {int: click.INT, float: click.FLOAT, str: click.STRING, None: click.STRING}


# --------------------------------------------------------------------------- #
# Shared options
# --------------------------------------------------------------------------- #


def backend_option(function: F) -> F:
    """``--backend tensorflow|jax|torch`` (the command calls :func:`~kerasrnn.cli.backend.use_backend`)."""
    from kerasrnn.registry import BACKENDS

    return click.option(
        "--backend",
        type=click.Choice(BACKENDS),
        default=None,
        help="Keras backend (sets KERAS_BACKEND before Keras is imported). Default: $KERAS_BACKEND, "
        "else Keras' configured one (tensorflow; jax or torch if that is not installed).",
    )(function)


def debug_option(function: F) -> F:
    """``--debug``: tracebacks of errors (read by the group's error policy, not by the command)."""
    return click.option("--debug", is_flag=True, expose_value=False, help="Show the traceback of an error.")(function)


def _set_quiet(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
    if value:
        output.set_quiet(True)
    return value


def quiet_option(function: F) -> F:
    """``--quiet`` / ``-q``: no progress bar, no INFO messages on stderr."""
    return click.option(
        "--quiet", "-q", is_flag=True, callback=_set_quiet, help="No progress bar; print only the final line."
    )(function)


def json_option(help: str = "Print as JSON.") -> Decorator:
    """``--json`` (parameter ``as_json``)."""
    return click.option("--json", "as_json", is_flag=True, help=help)


def run_argument(function: F) -> F:
    """The ``RUN`` argument: a run directory written by ``kerasrnn fit``."""
    return click.argument("run", metavar="RUN")(function)


# --------------------------------------------------------------------------- #
# Options generated from RunConfig
# --------------------------------------------------------------------------- #


def option_flag(field: dataclasses.Field) -> str:
    """The option of a ``RunConfig`` field: its ``flag``, else ``--`` + the name with hyphens."""
    return field.metadata.get("flag") or "--" + field.name.replace("_", "-")


def cli_fields(config_class: type | None = None) -> list[dataclasses.Field]:
    """The fields of ``config_class`` (default ``RunConfig``) that the command line sets from their metadata."""
    return [field for field in dataclasses.fields(_config_class(config_class)) if field.metadata.get("cli")]


def field_option(field: dataclasses.Field) -> Decorator:
    """The click option of one ``RunConfig`` field (see the module documentation)."""
    metadata = field.metadata
    choices = metadata.get("choices")
    value_type = click.Choice([str(choice) for choice in choices]) if choices else _TYPES[metadata.get("type")]
    return click.option(
        option_flag(field),
        field.name,
        type=value_type,
        default=None,
        metavar=metadata.get("metavar"),
        help=metadata.get("help"),
    )


def config_options(
    config_class: type | None = None, stand_ins: Mapping[str, Sequence[Decorator]] | None = None
) -> Decorator:
    """A decorator adding an option per field of ``config_class`` (default ``RunConfig``), in field order.

    Args:
        config_class: A dataclass whose fields carry the metadata of
            :func:`kerasrnn.training.run_config.option`.
        stand_ins: ``cli=False`` field -> the hand-written options that set
            it, placed where the field is (e.g. ``"layout"`` -> ``--pixel``,
            ``--permuted``).  A ``cli=False`` field without stand-ins gets
            no option.

    Raises:
        TypeError: A stand-in names a field that is not a ``cli=False`` field.
    """
    stand_ins = dict(stand_ins or {})
    decorators: list[Decorator] = []
    for field in dataclasses.fields(_config_class(config_class)):
        if field.metadata.get("cli"):
            decorators.append(field_option(field))
        else:
            decorators.extend(stand_ins.pop(field.name, ()))
    if stand_ins:
        raise TypeError(f"stand-in options for fields that are not cli=False fields: {', '.join(stand_ins)}")

    def add_options(function: Callable[..., Any]) -> Callable[..., Any]:
        for decorator in reversed(decorators):  # click lists the last applied first
            function = decorator(function)
        return function

    return add_options


def _config_class(config_class: type | None) -> type:
    if config_class is not None:
        return config_class
    from kerasrnn.training.run_config import RunConfig

    return RunConfig
