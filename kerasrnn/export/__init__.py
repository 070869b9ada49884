"""Deployment: SavedModel and ONNX export with verified parity, and streaming step models.

``kerasrnn.export.export_model(model, path, format="all")`` writes a
directory with a SavedModel (signature ``serve``) and/or an ONNX file, both
with dynamic batch and time axes, checks them against the Keras model on two
batch sizes and two sequence lengths (one never seen in training), stores the
figures (``parity.json``) and metadata (``metadata.json``) beside them, and
only then moves the directory into place (a path ending in ``.onnx`` is
one ONNX file, the metadata and figures in its ``metadata_props``).
``overwrite=True`` replaces only an earlier export or an empty directory;
a second export to the same path fails while the first runs (a lock beside
it). ``streaming=True`` adds the
single-step model (``x_t`` + states -> ``y_t`` + new states).
``export_run(RUN_DIR)`` does the same for a ``kerasrnn fit`` run directory.
Models trained on JAX or torch are exported by a TensorFlow worker process
from their ``.keras`` file. See ``docs/export.md``.

Modules: :mod:`~kerasrnn.export.api` (the entry points),
:mod:`~kerasrnn.export.job` (:class:`ExportJob`, one export as a typed
value), :mod:`~kerasrnn.export.tf_export` (one export on TensorFlow),
:mod:`~kerasrnn.export.writers` (SavedModel, ONNX),
:mod:`~kerasrnn.export.checks` (reload and parity figures),
:mod:`~kerasrnn.export.staging` (the output directory, via
:mod:`kerasrnn.storage`), :mod:`~kerasrnn.export.worker` (the TensorFlow
worker process). Progress and figures are logged on the ``kerasrnn.export``
logger; nothing is printed.

Importing this package imports neither TensorFlow nor ONNX; they are loaded
by the functions that use them.
"""

from __future__ import annotations

from typing import Any

from kerasrnn.export.errors import ExportError, ParityError

_LAZY = {
    "export_model": "kerasrnn.export.api",
    "export_models": "kerasrnn.export.api",
    "export_run": "kerasrnn.export.api",
    "read_run": "kerasrnn.export.api",
    "FORMATS": "kerasrnn.export.api",
    "ExportJob": "kerasrnn.export.job",
    "export_encoder_decoder": "kerasrnn.export.encoder_decoder",
    "build_streaming_model": "kerasrnn.export.streaming",
    "initial_states": "kerasrnn.export.streaming",
    "build_native_onnx": "kerasrnn.export.native_onnx",
    "supports_native": "kerasrnn.export.native_onnx",
}

__all__ = ["ExportError", "ParityError", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'kerasrnn.export' has no attribute {name!r}")
