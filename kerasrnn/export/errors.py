"""Errors of the exporter (standard library only)."""

from __future__ import annotations

from typing import Any


class ExportError(Exception):
    """An export that could not be made or did not pass its parity check.

    The message is one line meant for the user. When an export fails, nothing
    is left at the requested output path.
    """


class ParityError(ExportError):
    """An artifact whose outputs differ from the Keras model's by more than the tolerance.

    ``report`` holds the measured figures.
    """

    def __init__(self, message: str, report: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.report = report


def one_line(error: BaseException, limit: int = 300) -> str:
    """The first line of ``error``'s message (at most ``limit`` characters), else its type's name."""
    text = str(error).strip().splitlines()
    return text[0][:limit] if text else type(error).__name__
