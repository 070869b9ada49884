"""Shared test hooks.

* ``backend_independent`` tests (file parsing, registries, option handling) do
  not touch a Keras backend: ``tests/run-backends`` runs them with the first
  backend only (it sets ``KERASRNN_SKIP_BACKEND_INDEPENDENT=1`` for the others).
* ``slow`` marks tests that train or export real models end to end;
  ``-m "not slow"`` leaves them out while developing.
* The reference tests' max relative errors are printed at the end (gathered
  from the pytest-xdist workers when the suite runs in several).
"""

import os

import keras
import pytest

from tests.helpers import numpy_reference


def pytest_collection_modifyitems(config, items):
    if os.environ.get("KERASRNN_SKIP_BACKEND_INDEPENDENT", "") in ("", "0"):
        return
    kept, skipped = [], []
    for item in items:
        (skipped if item.get_closest_marker("backend_independent") else kept).append(item)
    if skipped:
        config.hook.pytest_deselected(items=skipped)
        items[:] = kept


def pytest_sessionfinish(session):
    # Under pytest-xdist (tests/run-backends runs two workers) each worker sends its errors to the controller.
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["reference_errors"] = dict(numpy_reference.RECORDED_ERRORS)


@pytest.hookimpl(optionalhook=True)  # pytest-xdist's hook
def pytest_testnodedown(node, error):
    for label, value in getattr(node, "workeroutput", {}).get("reference_errors", {}).items():
        numpy_reference.RECORDED_ERRORS[label] = max(value, numpy_reference.RECORDED_ERRORS.get(label, 0.0))


def pytest_terminal_summary(terminalreporter):
    errors = numpy_reference.RECORDED_ERRORS
    if not errors:
        return
    terminalreporter.section(f"max relative errors ({keras.backend.backend()} backend)")
    width = max(len(key) for key in errors)
    for key in sorted(errors):
        terminalreporter.write_line(f"{key:<{width}}  {errors[key]:.2e}")


@pytest.fixture
def backend() -> str:
    """The Keras backend of this test process."""
    return keras.backend.backend()
