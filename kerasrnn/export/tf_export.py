"""The TensorFlow side of the exporter: one export, from a job to a checked directory.

Runs only with ``KERAS_BACKEND=tensorflow`` (in the caller's process on that
backend, in a worker subprocess otherwise; see :mod:`kerasrnn.export.api`).

One export (:func:`export_one`):

1. the model is rebuilt behind an input with a free time axis (same layers,
   same weights: :func:`~kerasrnn.export.graph.dynamic_time_twin`);
2. the artifacts are written into a temporary directory beside the output
   path (:mod:`kerasrnn.export.staging`) by :mod:`kerasrnn.export.writers`:
   a SavedModel (laid out as ``keras.export.ExportArchive`` does; signatures
   ``serve``, its ``serving_default`` alias and ``metadata``), an ONNX file
   (native recurrent operators where :mod:`~kerasrnn.export.native_onnx` can
   write them and they pass parity, else tf2onnx's graph), and with streaming
   the single-step model in the same formats;
3. every artifact is reloaded (``tf.saved_model.load``, onnxruntime) and
   compared with the Keras model on the parity grid (:mod:`kerasrnn.export.checks`);
4. ``metadata.json`` and ``parity.json`` are written beside the artifacts and
   the directory is renamed to the output path -- only if every figure is
   within the tolerance. On any failure the temporary directory is removed
   and nothing is left at the output path. An output path ending in
   ``.onnx`` is one ONNX file instead: the ONNX model, with the metadata and
   the parity report in its ``metadata_props``, written there atomically.

The caller holds the destination's lock (:func:`kerasrnn.export.staging.lock`).

Progress and figures are logged on the ``kerasrnn.export`` logger.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from kerasrnn.export import parity as parity_lib
from kerasrnn.export import writers
from kerasrnn.export.checks import (
    OnnxRunner,
    ParityReport,
    SavedModelRunner,
    case_figures,
    fmt,
    numpy_of,
    streaming_figures,
    worst_error,
)
from kerasrnn.export.errors import ExportError, ParityError, one_line
from kerasrnn.export.job import ExportJob
from kerasrnn.export.staging import StagedFile, commit, stage
from kerasrnn.export.writers import METADATA_FILE, ONNX_FILE, PARITY_FILE, SAVEDMODEL_DIR, STREAMING_DIR
from kerasrnn.storage import atomic

logger = logging.getLogger(__name__)
OUTPUT_NAMES = ["outputs"]


def export_one(job: ExportJob, *, level: int = logging.INFO) -> dict[str, Any]:
    """Writes, checks and commits one export; returns its report (``parity.json``'s content).

    Messages go to the ``kerasrnn.export`` logger at ``level``.

    Raises:
        ExportError: nothing could be written, a conversion failed, or (as
            :class:`ParityError`) an artifact is off by more than the
            tolerance. Nothing is left at ``job.path`` then.
    """
    start = time.perf_counter()
    writers.tensorflow()
    staging = stage(job.path, job.overwrite)
    try:
        model = job.keras_model()
        export = _export_into_for(model, job)(staging.path, model, job, level)
        parity = export.parity
        report = parity.data
        report["seconds"] = round(time.perf_counter() - start, 2)
        report["path"] = str(staging.final)
        if isinstance(staging, StagedFile):
            report["artifact_paths"] = {"onnx": staging.final.name}
        _write_json(staging.path / PARITY_FILE, report)
        if not report["passed"]:
            raise ParityError(parity.failure_message(staging.final), report)
        if isinstance(staging, StagedFile):
            _commit_file(staging, export, report)
        else:
            commit(staging, job.overwrite)
    except ExportError:
        staging.discard()
        raise
    except BaseException as error:
        staging.discard()
        if isinstance(error, (KeyboardInterrupt, SystemExit)):
            raise
        raise ExportError(f"export failed: {type(error).__name__}: {one_line(error)}") from error
    logger.log(level, f"  parity OK (tolerance {job.tolerance:g}); wrote {staging.final} in {report['seconds']:.1f} s")
    return report


def _export_into_for(model: Any, job: ExportJob) -> Any:
    """The export of ``model``: a sequence model's, or an encoder-decoder's (two models,
    :mod:`kerasrnn.export.encoder_decoder`; also for a seq2seq run whose model is something else,
    which it refuses)."""
    from kerasrnn.export import encoder_decoder

    if encoder_decoder.is_encoder_decoder(model) or (job.metadata or {}).get("task") == encoder_decoder.TASK:
        return encoder_decoder.export_into
    return _export_into


def _commit_file(staging: StagedFile, export: _Export, report: dict[str, Any]) -> None:
    """The one-file export: the checked ONNX model, its metadata and the parity report in its
    ``metadata_props`` (``kerasrnn``, ``kerasrnn_parity``), written to ``staging.final`` atomically."""
    import onnx

    from kerasrnn.export.metadata import ONNX_PARITY_KEY
    from kerasrnn.export.staging import check_destination

    proto = export.onnx_proto
    writers.finish_onnx(proto, {**export.metadata, "artifacts": {"onnx": staging.final.name}})
    entry = proto.metadata_props.add()
    entry.key = ONNX_PARITY_KEY
    entry.value = json.dumps(report, sort_keys=True, default=str)
    check_destination(staging.final, export.job.overwrite)  # still what may be replaced
    staging.commit(lambda tmp: onnx.save(proto, str(tmp)))


def _write_json(path: Path, value: Any) -> None:
    atomic.write_text(path, json.dumps(value, indent=2, sort_keys=True, default=str) + "\n")


@dataclasses.dataclass
class _Export:
    """What the steps of one export share."""

    job: ExportJob
    directory: Path
    model: Any
    description: dict[str, Any]
    traced_twin: Any  # the model with a free time axis, as the artifacts are traced
    step: tuple[Any, dict[str, Any]] | None  # (step model, info) with streaming
    cases: list[dict[str, Any]]
    references: list[np.ndarray]  # the Keras model run eagerly on TensorFlow
    originals: list[np.ndarray] | None  # the model as trained (JAX/torch), if given
    signature: list[Any]
    serve: Any  # the traced full-sequence function
    metadata: dict[str, Any]
    parity: ParityReport
    artifacts: dict[str, str] = dataclasses.field(default_factory=dict)
    onnx_proto: Any = None  # the full-sequence ONNX model as written


def _export_into(directory: Path, model: Any, job: ExportJob, level: int) -> _Export:
    export = _prepare(directory, model, job, level)
    if "savedmodel" in job.formats:
        _savedmodel(export)
    if "onnx" in job.formats:
        _onnx(export)
    if export.step is not None:
        _streaming(export)
    _finish(export)
    return export


def _parity_cases(job: ExportJob, description: dict[str, Any]) -> tuple[list[dict[str, Any]], list | None]:
    if job.cases_path is not None:
        return parity_lib.load_cases(job.cases_path)
    cases = parity_lib.make_cases(
        description,
        batch_sizes=job.batch_sizes,
        lengths=job.lengths,
        max_seen_length=job.max_seen_length,
        seed=job.seed,
    )
    return cases, None


def _metadata(model: Any, description: dict[str, Any], job: ExportJob) -> dict[str, Any]:
    import tensorflow as tf

    from kerasrnn.export.metadata import describe

    metadata = describe(model, description, job.metadata)
    metadata["exported_with"] = {
        "tensorflow": tf.__version__,
        "onnx_opset": job.opset if "onnx" in job.formats else None,
    }
    metadata["trained_backend"] = job.trained_backend or metadata.get("trained_backend")
    return metadata


def _prepare(directory: Path, model: Any, job: ExportJob, level: int) -> _Export:
    from kerasrnn.export.graph import dynamic_time_twin, input_description

    description = input_description(model)
    twin = dynamic_time_twin(model)  # the reference: Keras' layers, run eagerly
    traced_twin = dynamic_time_twin(model, for_tracing=True)  # what the artifacts are made from
    step = None
    if job.streaming:
        from kerasrnn.export.streaming import build_streaming_model

        step = build_streaming_model(model)  # fails early for a bidirectional model
    cases, originals = _parity_cases(job, description)
    # The reference is the Keras model run eagerly. (Tracing can differ:
    # Keras 3.15's TimeDistributed is wrong in a graph with a free time axis.)
    references = [numpy_of(twin(case["x"], training=False)) for case in cases]
    signature = [writers.model_spec(description)]
    serve = writers.traced(writers.serve_function(traced_twin), signature)
    metadata = _metadata(model, description, job)
    trained_backend = metadata["trained_backend"]
    logger.log(
        level,
        f"export {model.name} ({metadata.get('architecture') or 'custom'}) -> {job.path}  "
        f"[formats: {', '.join(job.formats)}{', streaming' if job.streaming else ''}]",
    )
    parity = ParityReport(job.tolerance, trained_backend, cases, originals is not None, level)
    return _Export(
        job=job,
        directory=directory,
        model=model,
        description=description,
        traced_twin=traced_twin,
        step=step,
        cases=cases,
        references=references,
        originals=originals,
        signature=signature,
        serve=serve,
        metadata=metadata,
        parity=parity,
    )


def _savedmodel(export: _Export) -> None:
    path = export.directory / SAVEDMODEL_DIR
    writers.write_savedmodel(path, export.traced_twin, export.serve, export.metadata)
    run = SavedModelRunner(path, [export.description["name"]], OUTPUT_NAMES)
    export.parity.record("savedmodel", case_figures(run, export.cases, export.references, export.originals))
    export.artifacts["savedmodel"] = SAVEDMODEL_DIR


def _onnx(export: _Export) -> None:
    job, input_name = export.job, export.description["name"]
    proto, chosen, note = _native_onnx(export)
    if proto is None:
        proto = writers.tf2onnx_model(export.serve, export.signature, job.opset, [input_name], OUTPUT_NAMES)
    writers.finish_onnx(proto, export.metadata)
    path = writers.save_onnx(proto, export.directory / ONNX_FILE)
    run = OnnxRunner(str(path), [input_name], OUTPUT_NAMES)
    extra = {"onnx_ops": chosen, "recurrent_ops": writers.recurrent_ops(proto), "opset": job.opset}
    if note:
        extra["note"] = note
    export.parity.record("onnx", case_figures(run, export.cases, export.references, export.originals), extra)
    export.artifacts["onnx"] = ONNX_FILE
    export.onnx_proto = proto


def _native_onnx(export: _Export) -> tuple[Any, str, str | None]:
    """``(proto or None, "native" or "tf2onnx", note)``: the native form, if asked for and it passes parity.

    Raises:
        ExportError: ``onnx_ops="native"`` and the native form is not possible.
    """
    from kerasrnn.export.native_onnx import (
        MIN_OPSET,
        NativeUnsupported,
        build_native_onnx,
        prefers_native,
        supports_native,
    )

    job, model = export.job, export.traced_twin
    if job.onnx_ops == "tf2onnx":
        return None, "tf2onnx", None
    supported, reason = (supports_native if job.onnx_ops == "native" else prefers_native)(model)
    proto, note = None, None
    if supported and job.opset >= MIN_OPSET:
        input_name = export.description["name"]
        try:
            candidate = build_native_onnx(model, opset=job.opset, input_name=input_name)
            run = OnnxRunner(candidate.SerializeToString(), [input_name], OUTPUT_NAMES)
            figures = case_figures(run, export.cases, export.references, export.originals)
            if worst_error(figures) <= job.tolerance:
                proto = candidate
            else:
                note = f"native operators missed parity ({fmt(figures['max_abs_error'])}); kept tf2onnx"
        except NativeUnsupported as error:
            note = f"native operators: {error}"
        except Exception as error:  # noqa: BLE001 - the tf2onnx form is still there
            note = f"native operators failed ({type(error).__name__}: {one_line(error)}); kept tf2onnx"
    else:
        note = f"native operators: {reason or f'opset {job.opset} < {MIN_OPSET}'}"
    if job.onnx_ops == "native" and proto is None:
        raise ExportError(f"onnx_ops='native' is not possible for {export.model.name}: {note}")
    return proto, ("native" if proto is not None else "tf2onnx"), note


def _streaming(export: _Export) -> None:
    """The single-step model in the same formats, under ``streaming/``."""
    job, (step_model, info) = export.job, export.step
    metadata = {**export.metadata, "streaming": info, "input": {**export.metadata["input"], "streaming": True}}
    metadata["output"] = {"name": "y_t", "shape": info["outputs"][0]["shape"]}
    signature = writers.step_specs(info)
    function = writers.traced(writers.step_function(step_model, info), signature)
    in_names = [s["name"] for s in info["inputs"]]
    out_names = [s["name"] for s in info["outputs"]]
    rng = np.random.default_rng(job.seed + 1)
    (export.directory / STREAMING_DIR).mkdir()

    def check(run):
        return streaming_figures(run, step_model, info, export.description, export.cases, export.references, rng)

    if "savedmodel" in job.formats:
        path = export.directory / STREAMING_DIR / SAVEDMODEL_DIR
        writers.write_savedmodel(path, step_model, function, metadata)
        export.parity.record("streaming/savedmodel", check(SavedModelRunner(path, in_names, out_names)))
        export.artifacts["streaming/savedmodel"] = f"{STREAMING_DIR}/{SAVEDMODEL_DIR}"
    if "onnx" in job.formats:
        proto = writers.tf2onnx_model(function, signature, job.opset, in_names, out_names)
        writers.finish_onnx(proto, metadata)
        path = writers.save_onnx(proto, export.directory / STREAMING_DIR / ONNX_FILE)
        export.parity.record("streaming/onnx", check(OnnxRunner(str(path), in_names, out_names)), {"opset": job.opset})
        export.artifacts["streaming/onnx"] = f"{STREAMING_DIR}/{ONNX_FILE}"
    export.metadata["streaming"] = info


def _finish(export: _Export) -> ParityReport:
    """Writes ``metadata.json`` and completes the report (not yet written)."""
    import kerasrnn

    metadata = export.metadata
    metadata["artifacts"] = export.artifacts
    metadata["kerasrnn_version"] = kerasrnn.__version__
    _write_json(export.directory / METADATA_FILE, metadata)
    report = export.parity.data
    report["passed"] = export.parity.passed
    report["metadata"] = {k: metadata.get(k) for k in ("architecture", "task", "class_names", "model_name")}
    report["artifact_paths"] = export.artifacts
    return export.parity
