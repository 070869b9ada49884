"""One export, as a typed value: :class:`ExportJob` (standard library only).

:func:`kerasrnn.export.export_models` turns each request into an
:class:`ExportJob`, checking every field in one place (:meth:`ExportJob.__post_init__`);
:func:`kerasrnn.export.tf_export.export_one` carries it out. A job that
crosses to the TensorFlow worker process travels as JSON
(:meth:`ExportJob.to_dict` / :meth:`ExportJob.from_dict`): without its
in-memory ``model``, which the worker loads from ``model_path``.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from kerasrnn.export.errors import ExportError, one_line

#: The artifact formats, and ``"all"`` (both).
ARTIFACT_FORMATS = ("savedmodel", "onnx")
FORMATS = (*ARTIFACT_FORMATS, "all")
#: How the ONNX recurrence is written (see ``docs/export.md``).
ONNX_OPS = ("auto", "native", "tf2onnx")
DEFAULT_OPSET = 17
DEFAULT_TOLERANCE = 1e-5
DEFAULT_BATCH_SIZES = (1, 5)
#: An output path ending in it is one ONNX file rather than a directory.
ONNX_SUFFIX = ".onnx"


def is_single_file(path: str | os.PathLike) -> bool:
    """Whether an export to ``path`` is one ONNX file (``path`` ends in ``.onnx``) rather than a directory."""
    return Path(path).suffix.lower() == ONNX_SUFFIX


def check_single_file(path: str | os.PathLike, formats: Sequence[str], streaming: bool) -> None:
    """An export to ``NAME.onnx`` is one ONNX file: the ``onnx`` format only, without the streaming model.

    Raises:
        ExportError: another format, or ``streaming``, for such a path.
    """
    if not is_single_file(path):
        return
    if tuple(formats) != ("onnx",):
        raise ExportError(
            f"the export {path} ends in .onnx: it is one ONNX file, so it takes --format onnx (format='onnx') "
            f"only, not {'/'.join(formats)}; give a directory for {'/'.join(formats)}"
        )
    if streaming:
        raise ExportError(
            f"the export {path} ends in .onnx: it is one ONNX file and cannot also hold the streaming model; "
            "give a directory for --streaming"
        )


def resolve_formats(format: str | Sequence[str]) -> tuple[str, ...]:
    """``"all"`` -> both formats, ``"onnx"`` -> ``("onnx",)``; a sequence of formats is checked.

    Raises:
        ExportError: an unknown format.
    """
    names = [format] if isinstance(format, str) else list(format)
    if names == ["all"]:
        return ARTIFACT_FORMATS
    for name in names:
        if name not in ARTIFACT_FORMATS:
            raise ExportError(f"unknown format {name!r}; expected one of: {', '.join(FORMATS)}")
    if not names or len(set(names)) != len(names):
        raise ExportError(f"formats must be one or both of {', '.join(ARTIFACT_FORMATS)}; got {names}")
    return tuple(names)


def _int(name: str, value: Any, minimum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value:
        raise ExportError(f"{name} must be an integer; got {value!r}")
    if minimum is not None and value < minimum:
        raise ExportError(f"{name} must be >= {minimum}; got {value!r}")
    return int(value)


def _distinct(name: str, values: Sequence[Any], what: str) -> tuple[int, ...]:
    numbers = tuple(_int(name, value, 1) for value in values)
    if len(set(numbers)) < 2:
        raise ExportError(f"parity needs at least two different {what}; got {list(numbers)}")
    return numbers


def _path(value: str | os.PathLike | None) -> Path | None:
    return None if value is None else Path(value).expanduser().absolute()


@dataclasses.dataclass(frozen=True)
class ExportJob:
    """Everything one export needs; checked and normalised on construction.

    Attributes:
        path: The output directory (made absolute); a path ending in
            ``.onnx`` is one ONNX file instead (:func:`is_single_file`).
        formats: ``("savedmodel", "onnx")`` or one of them (``"all"`` and a
            single name are accepted too).
        model: A built Keras model, or None to load ``model_path``. Not part
            of :meth:`to_dict`.
        model_path: A ``.keras`` file: what the TensorFlow worker loads.
        metadata: Stored with the export (architecture, task, class names,
            run information; anything JSON-able).
        opset: ONNX opset (None: :data:`DEFAULT_OPSET`).
        onnx_ops: One of :data:`ONNX_OPS`.
        streaming: Also write the single-step model.
        overwrite: Replace an existing export directory at ``path``.
        tolerance: Largest accepted absolute error (a negative one fails
            every export: useful in tests).
        batch_sizes, lengths: The parity grid (at least two different values
            each; ``lengths`` None: the model's own and a longer one).
        max_seen_length: Longest training sequence of a variable-length model.
        seed: Seed of the random parity inputs.
        cases_path: An ``.npz`` of parity inputs and the trained backend's
            outputs (:func:`kerasrnn.export.parity.save_cases`).
        trained_backend: The backend the model was trained on.

    Raises:
        ExportError: a field out of range (one line naming it).
    """

    path: Path
    formats: tuple[str, ...] = ARTIFACT_FORMATS
    model: Any = dataclasses.field(default=None, compare=False, repr=False)
    model_path: Path | None = None
    metadata: dict[str, Any] | None = None
    opset: int = DEFAULT_OPSET
    onnx_ops: str = "auto"
    streaming: bool = False
    overwrite: bool = False
    tolerance: float = DEFAULT_TOLERANCE
    batch_sizes: tuple[int, ...] = DEFAULT_BATCH_SIZES
    lengths: tuple[int, ...] | None = None
    max_seen_length: int | None = None
    seed: int = 0
    cases_path: Path | None = None
    trained_backend: str | None = None

    def __post_init__(self) -> None:
        def set_(name: str, value: Any) -> None:
            object.__setattr__(self, name, value)

        if self.path is None or str(self.path) == "":
            raise ExportError("each export job needs a path and a model (or model_path)")
        if self.model is None and self.model_path is None:
            raise ExportError("each export job needs a path and a model (or model_path)")
        set_("path", _path(self.path))
        set_("model_path", _path(self.model_path))
        set_("cases_path", _path(self.cases_path))
        set_("formats", resolve_formats(self.formats))
        check_single_file(self.path, self.formats, bool(self.streaming))
        if self.onnx_ops not in ONNX_OPS:
            raise ExportError(f"unknown onnx_ops {self.onnx_ops!r}; expected one of: {', '.join(ONNX_OPS)}")
        set_("opset", DEFAULT_OPSET if self.opset is None else _int("opset", self.opset, 1))
        set_("streaming", bool(self.streaming))
        set_("overwrite", bool(self.overwrite))
        if (
            isinstance(self.tolerance, bool)
            or not isinstance(self.tolerance, (int, float))
            or math.isnan(self.tolerance)
        ):
            raise ExportError(f"tolerance must be a number; got {self.tolerance!r}")
        set_("tolerance", float(self.tolerance))
        set_("batch_sizes", _distinct("batch_sizes", self.batch_sizes, "batch sizes"))
        if self.lengths is not None:
            set_("lengths", _distinct("lengths", self.lengths, "positive lengths") if self.lengths else None)
        if self.max_seen_length is not None:
            set_("max_seen_length", _int("max_seen_length", self.max_seen_length, 1))
        set_("seed", _int("seed", self.seed))
        if self.metadata is not None:
            if not isinstance(self.metadata, Mapping):
                raise ExportError(f"metadata must be a dict; got {type(self.metadata).__name__}")
            set_("metadata", dict(self.metadata))
        if self.trained_backend is not None and not isinstance(self.trained_backend, str):
            raise ExportError(f"trained_backend must be a string; got {self.trained_backend!r}")

    # -- conversions ---------------------------------------------------- #

    def replace(self, **changes: Any) -> ExportJob:
        """A copy with ``changes`` (checked again)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able fields (paths as strings, tuples as lists), ``model`` left out."""
        result: dict[str, Any] = {}
        for field in dataclasses.fields(self):
            if field.name == "model":
                continue
            value = getattr(self, field.name)
            if isinstance(value, Path):
                value = str(value)
            elif isinstance(value, tuple):
                value = list(value)
            result[field.name] = value
        return result

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ExportJob:
        """The job of :meth:`to_dict`'s output (``format`` is accepted for ``formats``).

        Raises:
            ExportError: unknown keys, or a field out of range.
        """
        known = {field.name for field in dataclasses.fields(cls)}
        values = dict(data)
        if "format" in values:
            if "formats" in values:
                raise ExportError("an export job takes format or formats, not both")
            values["formats"] = values.pop("format")
        unknown = sorted(set(values) - known)
        if unknown:
            raise ExportError(f"unknown export job field(s): {', '.join(unknown)}")
        if "path" not in values:
            raise ExportError("each export job needs a path and a model (or model_path)")
        return cls(**values)

    # -- the model ------------------------------------------------------ #

    def keras_model(self) -> Any:
        """``model``, else the model loaded from ``model_path``."""
        return self.model if self.model is not None else load_model(self.model_path)


def load_model(path: str | os.PathLike) -> Any:
    """A ``.keras`` model with kerasrnn's layers registered, uncompiled.

    Raises:
        ExportError: the file cannot be loaded (one line).
    """
    import keras

    import kerasrnn  # noqa: F401  (registers the layers)
    import kerasrnn.models.encoder_decoder  # noqa: F401  (registers EncoderDecoder, a sequence-to-sequence run's model)

    try:
        return keras.saving.load_model(str(path), compile=False)
    except Exception as error:  # noqa: BLE001 - any loader failure is the same user error
        raise ExportError(f"cannot load the model {path}: {type(error).__name__}: {one_line(error)}") from None
