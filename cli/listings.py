"""``kerasrnn archs``, ``datasets``, ``presets`` (from :mod:`kerasrnn.registry`, no Keras) and ``env``."""

from __future__ import annotations

import click

from kerasrnn.cli.backend import use_backend
from kerasrnn.cli.options import (
    CONTEXT_SETTINGS,
    backend_option,
    debug_option,
    json_option,
)
from kerasrnn.cli.output import echo_fields, echo_json, echo_listing, preset_line


def architecture_listing() -> dict[str, str]:
    """``kerasrnn archs``: canonical name -> description."""
    from kerasrnn.registry import ARCHITECTURE_DESCRIPTIONS

    return dict(ARCHITECTURE_DESCRIPTIONS)


def dataset_listing() -> dict[str, str]:
    """``kerasrnn datasets``: name -> description (``file`` is ``--data FILE``)."""
    from kerasrnn.registry import DATASETS

    return {name: entry.description for name, entry in DATASETS.items()}


def preset_listing() -> dict[str, str]:
    """``kerasrnn presets``: name -> description and the accuracy its source reported."""
    from kerasrnn.registry import presets

    return {name: preset_line(entry) for name, entry in presets().items()}


def _aliases_epilog() -> str:
    from kerasrnn.registry import ARCHITECTURE_ALIASES

    pairs = ", ".join(f"{alias} ({name})" for alias, name in ARCHITECTURE_ALIASES.items())
    return f"Earlier spellings are accepted too: {pairs}." if pairs else ""


@click.command(context_settings=CONTEXT_SETTINGS, epilog=_aliases_epilog())
def archs() -> None:
    """List the architectures for --arch.

    \b
    Example:
      kerasrnn archs
    """
    echo_listing(architecture_listing())


@click.command(context_settings=CONTEXT_SETTINGS)
def datasets() -> None:
    """List the data sets for --dataset (file: your own, with --data FILE).

    \b
    Example:
      kerasrnn datasets
    """
    echo_listing(dataset_listing())


@click.command(context_settings=CONTEXT_SETTINGS)
def presets() -> None:
    """List the course presets for --preset, with the accuracy the course reported.

    \b
    Example:
      kerasrnn presets
      kerasrnn fit --preset table-lstm-1
    """
    echo_listing(preset_listing())


@click.command(context_settings=CONTEXT_SETTINGS)
@json_option()
@backend_option
@debug_option
def env(as_json: bool, backend: str | None) -> None:
    """Show versions, the Keras backend and its devices.

    data_parallel: the devices and engine that --distribute data-parallel would use.

    \b
    Examples:
      kerasrnn env
      kerasrnn env --backend jax --json
    """
    use_backend(backend)
    from kerasrnn.training.environment import environment

    info = environment()
    from kerasrnn.training.distribution import data_parallel_plan

    info["data_parallel"] = data_parallel_plan()  # what --distribute data-parallel would use
    if as_json:
        echo_json(info)
    else:
        echo_fields(info)
