"""Reloading the artifacts and measuring their parity with the Keras model.

* :class:`OnnxRunner` (onnxruntime) and :class:`SavedModelRunner`
  (``tf.saved_model.load``): call an artifact on numpy arrays;
* :func:`case_figures`: a full-sequence artifact on the parity grid;
* :func:`streaming_figures`: a single-step artifact, one step from random
  states and whole sequences stepped from zero states;
* :class:`ParityReport`: the figures of every artifact (``parity.json``),
  each logged as one line on the ``kerasrnn.export`` logger.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from kerasrnn.export import parity as parity_lib
from kerasrnn.export.errors import ExportError

logger = logging.getLogger(__name__)

#: ``run(*arrays) -> [outputs...]``: an artifact called on numpy arrays.
Runner = Callable[..., Sequence[np.ndarray]]


def numpy_of(value: Any) -> np.ndarray:
    """A backend tensor as a numpy array."""
    import keras

    return np.asarray(keras.ops.convert_to_numpy(value))


def fmt(value: float) -> str:
    """An error figure as printed: ``0`` or ``1.2e-07``."""
    return "0" if value == 0 else f"{value:.1e}"


def worst_error(figures: dict[str, Any]) -> float:
    """The larger of an artifact's errors against the TensorFlow reference and the trained backend."""
    return max(figures["max_abs_error"], figures.get("max_abs_error_vs_trained_backend", 0.0))


class OnnxRunner:
    """An ONNX model (a file path or serialized bytes) on onnxruntime's CPU provider.

    Raises:
        ExportError: the graph lacks one of ``input_names`` / ``output_names``.
    """

    def __init__(self, source: str | bytes, input_names: Sequence[str], output_names: Sequence[str]) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.log_severity_level = 3
        self.session = ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])
        have = {i.name for i in self.session.get_inputs()} | {o.name for o in self.session.get_outputs()}
        missing = [name for name in [*input_names, *output_names] if name not in have]
        if missing:
            raise ExportError(f"the ONNX graph lacks the inputs/outputs {missing}")
        self.inputs = list(input_names)
        self.outputs = list(output_names)

    def __call__(self, *arrays: np.ndarray) -> list[np.ndarray]:
        return self.session.run(self.outputs, dict(zip(self.inputs, arrays)))


class SavedModelRunner:
    """A SavedModel's ``serve`` signature, reloaded with ``tf.saved_model.load``."""

    def __init__(self, path: Any, input_names: Sequence[str], output_names: Sequence[str]) -> None:
        from kerasrnn.export.writers import tensorflow

        tf = tensorflow()
        self.tf = tf
        self.fn = tf.saved_model.load(str(path)).signatures["serve"]
        self.input_names = list(input_names)
        self.output_names = list(output_names)

    def __call__(self, *arrays: np.ndarray) -> list[np.ndarray]:
        result = self.fn(**{name: self.tf.constant(a) for name, a in zip(self.input_names, arrays)})
        return [result[name].numpy() for name in self.output_names]


def _case_row(case: dict[str, Any], error: float) -> dict[str, Any]:
    return {
        "batch": case["batch"],
        "length": case["length"],
        "seen_in_training": case["seen_in_training"],
        "max_abs_error": error,
    }


def case_figures(
    run: Runner,
    cases: Sequence[dict[str, Any]],
    references: Sequence[np.ndarray],
    originals: Sequence[np.ndarray] | None = None,
) -> dict[str, Any]:
    """A full-sequence artifact against the references (and the trained backend's outputs) per case."""
    figures, worst, worst_original = [], 0.0, 0.0
    for index, case in enumerate(cases):
        output = run(case["x"])[0]
        row = _case_row(case, parity_lib.max_abs_error(references[index], output))
        worst = max(worst, row["max_abs_error"])
        if originals is not None:
            original_error = parity_lib.max_abs_error(originals[index], output)
            row["max_abs_error_vs_trained_backend"] = original_error
            worst_original = max(worst_original, original_error)
        figures.append(row)
    result = {"max_abs_error": worst, "cases": figures}
    if originals is not None:
        result["max_abs_error_vs_trained_backend"] = worst_original
    return result


def _single_step_errors(run, step_model, info, description, cases, rng) -> list[float]:
    """One step from random states, per batch size, against the Keras step model."""
    errors = []
    for batch in sorted({case["batch"] for case in cases}):
        x = parity_lib.make_inputs({**description, "pad_value": None}, batch, 1, rng)[:, 0]
        states = [(0.5 * rng.standard_normal((batch, *s["shape"][1:]))).astype(np.float32) for s in info["inputs"][1:]]
        expected = [numpy_of(v) for v in step_model([x, *states], training=False)]
        got = run(x, *states)
        errors.append(max(parity_lib.max_abs_error(e, g) for e, g in zip(expected, got)))
    return errors


def streaming_figures(
    run: Runner,
    step_model: Any,
    info: dict[str, Any],
    description: dict[str, Any],
    cases: Sequence[dict[str, Any]],
    references: Sequence[np.ndarray],
    rng: np.random.Generator,
) -> dict[str, Any]:
    """Single steps from random states, and whole sequences stepped from zero states."""
    from kerasrnn.export.streaming import initial_states

    step_errors = _single_step_errors(run, step_model, info, description, cases, rng)
    sequence_rows = []
    largest = max(case["batch"] for case in cases)
    for index, case in enumerate(cases):
        if case["batch"] != largest:
            continue
        x = case["x"]
        states = initial_states(info, x.shape[0])
        outputs = []
        for t in range(x.shape[1]):
            y, *states = run(x[:, t], *states)
            outputs.append(y)
        reference = references[index]
        got = np.stack(outputs, axis=1) if reference.ndim == 3 else outputs[-1]
        sequence_rows.append(_case_row(case, parity_lib.max_abs_error(reference, got)))
    return {
        "max_abs_error": max([*step_errors, *(row["max_abs_error"] for row in sequence_rows)]),
        "single_step_max_abs_error": max(step_errors),
        "stepped_sequence_vs_full_model": sequence_rows,
    }


class ParityReport:
    """The parity figures of one export (``parity.json``), artifact by artifact.

    :meth:`record` marks each artifact passed or failed against the
    tolerance and logs its figures as one line (at ``level`` on the
    ``kerasrnn.export`` logger).
    """

    def __init__(
        self,
        tolerance: float,
        trained_backend: str | None,
        cases: Sequence[dict[str, Any]],
        has_originals: bool,
        level: int = logging.INFO,
    ) -> None:
        self.tolerance = tolerance
        self.trained_backend = trained_backend
        self.level = level
        self.data: dict[str, Any] = {
            "tolerance": tolerance,
            "reference": "keras model run eagerly, tensorflow backend",
            "trained_backend": trained_backend,
            "cases": [{k: case[k] for k in ("batch", "length", "seen_in_training")} for case in cases],
            "artifacts": {},
        }
        if has_originals:
            self.data["reference_trained_backend"] = f"keras model, {trained_backend} backend (the model as trained)"

    @property
    def passed(self) -> bool:
        """Every artifact recorded so far is within the tolerance."""
        return all(a["passed"] for a in self.data["artifacts"].values())

    def failed(self) -> list[str]:
        """The names of the artifacts off by more than the tolerance."""
        return [name for name, a in self.data["artifacts"].items() if not a["passed"]]

    def record(self, name: str, figures: dict[str, Any], extra: dict[str, Any] | None = None) -> dict[str, Any]:
        """Adds an artifact's figures (plus ``extra`` fields) and logs them; returns them."""
        figures["passed"] = bool(worst_error(figures) <= self.tolerance)
        figures.update(extra or {})
        self.data["artifacts"][name] = figures
        logger.log(self.level, self._line(name, figures, extra))
        return figures

    def _line(self, name: str, figures: dict[str, Any], extra: dict[str, Any] | None) -> str:
        detail = ", ".join(
            f"b{row['batch']} T{row['length']}{'' if row['seen_in_training'] else '*'} {fmt(row['max_abs_error'])}"
            for row in figures.get("cases", figures.get("stepped_sequence_vs_full_model", []))
        )
        if "single_step_max_abs_error" in figures:
            detail = f"one step {fmt(figures['single_step_max_abs_error'])}; stepped: {detail}"
        label = name + (f" ({extra['onnx_ops']})" if extra and "onnx_ops" in extra else "")
        vs = ""
        if "max_abs_error_vs_trained_backend" in figures:
            vs = f", vs {self.trained_backend} {fmt(figures['max_abs_error_vs_trained_backend'])}"
        return (
            f"  {label:<34} max |err| {fmt(figures['max_abs_error'])}{vs}  [{detail}]"
            f"{'' if figures['passed'] else '  FAILED'}"
        )

    def failure_message(self, path: Any) -> str:
        """The one-line message of a :class:`~kerasrnn.export.ParityError`."""
        failed = self.failed()
        artifacts = self.data["artifacts"]
        return (
            f"parity check failed for {', '.join(failed)}: max abs error "
            + ", ".join(f"{name} {fmt(worst_error(artifacts[name]))}" for name in failed)
            + f" > tolerance {self.tolerance:g}; nothing written to {path}"
        )
