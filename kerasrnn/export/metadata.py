"""The metadata stored with every export (standard library only, plus the model's facts).

The same JSON object goes into ``metadata.json`` beside the artifacts, into
the ONNX files' ``metadata_props`` (the whole object under ``kerasrnn``, and
its main fields as their own keys) and into the SavedModel (a ``metadata``
signature returning it, and ``assets/kerasrnn_metadata.json``). Its
``"format": "kerasrnn-export"`` marks an export (what ``overwrite`` may
replace). An export to one ``.onnx`` file also holds the parity figures in
its ``metadata_props``, under ``kerasrnn_parity``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

FORMAT_VERSION = 1
#: The ``format`` of every export's metadata.
EXPORT_FORMAT = "kerasrnn-export"
#: ONNX ``metadata_props`` keys: the whole metadata object, and (one-file export) the parity report.
ONNX_METADATA_KEY = "kerasrnn"
ONNX_PARITY_KEY = "kerasrnn_parity"

# Keys of metadata_props besides the whole object (``kerasrnn``).
ONNX_KEYS = ("architecture", "task", "class_names", "input_spec", "kerasrnn_version")


def _guess_from_name(model_name: str | None) -> tuple[str | None, str | None]:
    """``(arch, task)`` from a :func:`kerasrnn.build_model` name ``<arch>_<task>``."""
    from kerasrnn.models import ARCHITECTURES, TASKS

    match = re.fullmatch(r"(.+)_(classification|labelling|regression|language_model)", model_name or "")
    if match and match.group(1) in ARCHITECTURES and match.group(2) in TASKS:
        return match.group(1), match.group(2)
    return None, None


def describe(model: Any, description: dict[str, Any], extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The metadata object of ``model``; ``extra`` (user/run metadata) wins over guesses."""
    import keras

    import kerasrnn

    extra = dict(extra or {})
    arch, task = _guess_from_name(model.name)
    output_shape = [None if d is None else int(d) for d in model.outputs[0].shape]
    output_shape[0] = None
    if len(output_shape) == 3:
        output_shape[1] = None  # per-step output: as long as the input
    metadata = {
        "format": EXPORT_FORMAT,
        "format_version": FORMAT_VERSION,
        "kerasrnn_version": kerasrnn.__version__,
        "keras_version": keras.__version__,
        "model_name": model.name,
        "architecture": extra.pop("architecture", None) or arch,
        "task": extra.pop("task", None) or task,
        "class_names": extra.pop("class_names", None),
        "trained_backend": extra.pop("trained_backend", None),
        "input": {**description, "shape": [None, None, *description["shape"][2:]]},
        "output": {"name": "outputs", "shape": output_shape},
    }
    for key, value in extra.items():
        metadata.setdefault(key, value)
    return json.loads(json.dumps(metadata, default=_jsonable))


def _jsonable(value: Any) -> Any:
    try:
        import numpy as np

        if isinstance(value, np.generic):
            return value.item()
        if isinstance(value, np.ndarray):
            return value.tolist()
    except ImportError:  # pragma: no cover
        pass
    return str(value)


def onnx_props(metadata: dict[str, Any]) -> dict[str, str]:
    """``{key: string}`` for ONNX ``metadata_props``."""
    props = {ONNX_METADATA_KEY: json.dumps(metadata, sort_keys=True)}
    values = {
        "architecture": metadata.get("architecture"),
        "task": metadata.get("task"),
        "class_names": metadata.get("class_names"),
        "input_spec": metadata.get("input"),
        "kerasrnn_version": metadata.get("kerasrnn_version"),
    }
    for key in ONNX_KEYS:
        value = values[key]
        if value is None:
            continue
        props[key] = value if isinstance(value, str) else json.dumps(value)
    return props
