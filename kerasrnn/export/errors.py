"""Errors of the exporter (standard library only)."""


class ExportError(Exception):
    """An export that could not be made or did not pass its parity check.

    The message is one line meant for the user. When an export fails, nothing
    is left at the requested output path.
    """


class ParityError(ExportError):
    """An artifact whose outputs differ from the Keras model's by more than the tolerance.

    ``report`` holds the measured figures.
    """

    def __init__(self, message, report=None):
        super().__init__(message)
        self.report = report
