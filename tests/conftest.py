"""Shared test hooks: prints the max relative errors the reference tests record."""

import keras

import numpy_reference


def pytest_terminal_summary(terminalreporter):
    errors = numpy_reference.RECORDED_ERRORS
    if not errors:
        return
    terminalreporter.section(f"max relative errors ({keras.backend.backend()} backend)")
    width = max(len(key) for key in errors)
    for key in sorted(errors):
        terminalreporter.write_line(f"{key:<{width}}  {errors[key]:.2e}")
