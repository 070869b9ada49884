"""What the commands print: the ``kerasrnn`` logger on stderr, listings, metrics, the final line.

Results go to stdout (CSV, JSON, listings, the final line of ``fit``);
messages go to stderr as ``kerasrnn: <message>`` lines through the
``kerasrnn`` logger, which the library logs its progress to and which
:func:`cli_logging` configures for the duration of a command: INFO and
above, WARNING and above with ``--quiet`` (:func:`set_quiet`), not
propagated to the root logger.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
from collections.abc import Iterator, Mapping
from typing import Any

import click

LOGGER_NAME = "kerasrnn"
logger = logging.getLogger(LOGGER_NAME)


class StderrHandler(logging.Handler):
    """Writes each record as a line on the current ``sys.stderr`` (through :func:`click.echo`).

    The stream is looked up at every record, not kept, so that click's
    ``CliRunner`` (which replaces ``sys.stderr``) sees the lines too.
    """

    def emit(self, record: logging.LogRecord) -> None:
        try:
            click.echo(self.format(record), err=True)
        except Exception:  # noqa: BLE001 -- logging's contract: never raise from emit
            self.handleError(record)


@contextlib.contextmanager
def cli_logging() -> Iterator[logging.Logger]:
    """Configure the ``kerasrnn`` logger for one command; restore it afterwards.

    One :class:`StderrHandler` printing ``kerasrnn: <message>``, level INFO,
    ``propagate=False``.  The previous handlers, level and propagation come
    back on exit, so that running the command line inside another program
    (or a test session) leaves its logging as it was.
    """
    saved = (list(logger.handlers), logger.level, logger.propagate)
    handler = StderrHandler()
    handler.setFormatter(logging.Formatter(f"{LOGGER_NAME}: %(message)s"))
    logger.handlers = [handler]
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        yield logger
    finally:
        logger.handlers, level, logger.propagate = saved[0], saved[1], saved[2]
        logger.setLevel(level)


def set_quiet(quiet: bool) -> None:
    """``--quiet``: no INFO messages (warnings and errors still show)."""
    logger.setLevel(logging.WARNING if quiet else logging.INFO)


def format_value(value: Any) -> Any:
    """Floats with 6 significant digits (``nan``/``inf`` as such); other values as they are."""
    if isinstance(value, float):
        return f"{value:.6g}" if math.isfinite(value) else str(value)
    return value


def echo_listing(entries: Mapping[str, str]) -> None:
    """``name  description`` lines, the names padded to one width."""
    if not entries:
        return
    width = max(map(len, entries))
    for name, description in entries.items():
        click.echo(f"{name:<{width}}  {description}")


def echo_json(value: Any, *, sort_keys: bool = False) -> None:
    """``value`` as indented JSON on stdout."""
    click.echo(json.dumps(value, indent=2, sort_keys=sort_keys))


def echo_fields(values: Mapping[str, Any]) -> None:
    """``key: value`` lines; a list is joined with commas, a mapping as ``k v, k v``."""
    for key, value in values.items():
        if isinstance(value, Mapping):
            value = ", ".join(f"{k} {format_value(v)}" for k, v in value.items())
        elif isinstance(value, list):
            value = ", ".join(map(str, value))
        click.echo(f"{key}: {format_value(value)}")


def preset_line(entry: Mapping[str, Any]) -> str:
    """A preset's description, and the accuracy its source reported (``kerasrnn presets``)."""
    reported = entry.get("reported_test_accuracy")
    if reported is None:
        return entry["description"]
    where = entry.get("reported_on")
    return f"{entry['description']} [{reported:.2%}" + (f" on {where}]" if where else " reported]")


def echo_final_line(run: str | os.PathLike) -> None:
    """The final line of ``fit``: the headline metrics and the run directory."""
    from kerasrnn.training.run_dir import RunDir
    from kerasrnn.training.trainer import summary_line

    metrics = RunDir(run).read_metrics() or {}
    click.echo(f"{summary_line(metrics)}; run directory {run}")


def prediction_note(summary: Mapping[str, Any], output: str | None) -> str:
    """The stderr line of ``predict``: how many, accuracy or RMSE, notes, where written."""
    parts = [f"{summary['samples']} sequences predicted"]
    if "accuracy" in summary:
        parts.append(f"accuracy {summary['accuracy']:.4f} against the labels")
    if "rmse" in summary:
        parts.append(f"RMSE {summary['rmse']:.4g} against the labels")
    parts += summary.get("notes", [])
    if output:
        parts.append(f"written to {output}")
    return "; ".join(parts)
