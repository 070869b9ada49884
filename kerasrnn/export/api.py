"""The export entry points: :func:`export_model`, :func:`export_models`, :func:`export_run`.

Route per backend
-----------------
The artifacts are always produced by TensorFlow (SavedModel writer, tf2onnx)
and checked in the same process:

* ``KERAS_BACKEND=tensorflow``: in this process.
* ``jax`` / ``torch``: the model is saved as ``.keras`` and reloaded by a
  worker process under the TensorFlow backend (``python -m
  kerasrnn.export.worker``), which writes and checks the artifacts. This
  process first runs the model as trained on the parity inputs, and the
  worker checks the artifacts against those outputs too (figures
  ``max_abs_error_vs_trained_backend``). Keras 3's own JAX exporter cannot
  export anything reversed (Bidirectional) to ONNX and its torch exporter
  gives wrong results with a dynamic time axis, so this is the one route
  that works for every architecture.

Output layout (a directory, written under a temporary name beside it and
renamed into place only when every parity figure is within the tolerance)::

    OUT/
      savedmodel/                 signatures: serve (+ serving_default), metadata
      model.onnx                  metadata_props: kerasrnn, architecture, ...
      streaming/savedmodel/       with streaming=True: x_t + states -> y_t + states
      streaming/model.onnx
      metadata.json               architecture, task, input spec, class names, versions
      parity.json                 the parity figures
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from kerasrnn.export.errors import ExportError
from kerasrnn.export.errors import ParityError

FORMATS = ("savedmodel", "onnx", "all")
WORKER_MODULE = "kerasrnn.export.worker"


def resolve_formats(format):
    """``"all"`` -> both; ExportError for an unknown format."""
    if format not in FORMATS:
        raise ExportError(f"unknown format {format!r}; expected one of: {', '.join(FORMATS)}")
    return ["savedmodel", "onnx"] if format == "all" else [format]


def _log_function(verbose):
    if verbose:
        return lambda message: print(message, flush=True)
    return lambda message: None


def export_model(
    model,
    path,
    format="all",
    *,
    metadata=None,
    opset=None,
    streaming=False,
    overwrite=False,
    tolerance=1e-5,
    onnx_ops="auto",
    batch_sizes=(1, 5),
    lengths=None,
    max_seen_length=None,
    seed=0,
    check_trained_backend=True,
    verbose=True,
):
    """Exports a Keras model to SavedModel and/or ONNX with verified parity.

    Args:
        model: A built single-input, single-output Keras model over sequences
            ``(batch, time, ...)``, e.g. from :func:`kerasrnn.build_model`.
        path: Output directory (must not exist unless ``overwrite``).
        format: ``"savedmodel"``, ``"onnx"`` or ``"all"``.
        metadata: Optional dict stored with the export (``architecture``,
            ``task``, ``class_names``, anything JSON-able); architecture and
            task are otherwise read from a ``build_model`` model's name.
        opset: ONNX opset (default 17).
        streaming: Also write the single-step model
            (:func:`~kerasrnn.export.build_streaming_model`) in the same
            format(s); unidirectional models only.
        overwrite: Replace an existing export directory at ``path``.
        tolerance: Largest accepted absolute difference from the Keras model.
        onnx_ops: ``"auto"`` (ONNX's RNN/GRU/LSTM operators where they
            express the model and pass parity, else tf2onnx's graph),
            ``"native"`` (require them) or ``"tf2onnx"``.
        batch_sizes, lengths: The parity grid (at least two of each; the
            default lengths are the model's own and a longer unseen one).
        max_seen_length: Longest training sequence of a variable-length
            model (so that the grid holds a longer, unseen one).
        seed: Seed of the random parity inputs.
        check_trained_backend: On JAX/torch, also compare the artifacts with
            the model run on this backend (as trained), not only with its
            reload under TensorFlow. Costs one model call per parity case.
        verbose: Print the figures.

    Returns:
        The parity report (also written to ``path/parity.json``).

    Raises:
        ExportError: Unknown format, unwritable path, a model that cannot be
            exported, or (:class:`~kerasrnn.export.ParityError`) an artifact
            off by more than ``tolerance``. Nothing is left at ``path``.

    Example::

        model = kerasrnn.build_model("bigru", "classification", (28, 28), 10)
        report = kerasrnn.export.export_model(model, "bigru-export", format="onnx")
    """
    results = export_models(
        [{"model": model, "path": path, "metadata": metadata, "max_seen_length": max_seen_length}],
        format=format, opset=opset, streaming=streaming, overwrite=overwrite, tolerance=tolerance,
        onnx_ops=onnx_ops, batch_sizes=batch_sizes, lengths=lengths, seed=seed, verbose=verbose,
        check_trained_backend=check_trained_backend, raise_errors=True,
    )
    return results[0]


def export_models(
    jobs,
    format="all",
    *,
    opset=None,
    streaming=False,
    overwrite=False,
    tolerance=1e-5,
    onnx_ops="auto",
    batch_sizes=(1, 5),
    lengths=None,
    seed=0,
    check_trained_backend=True,
    verbose=True,
    raise_errors=True,
):
    """:func:`export_model` for several models, sharing one TensorFlow worker off TensorFlow.

    Args:
        jobs: ``(model, path)`` pairs or dicts with ``model`` (or
            ``model_path``, a ``.keras`` file), ``path`` and optionally
            ``metadata``, ``streaming``, ``format``, ``max_seen_length``,
            ``trained_backend``.
        raise_errors: Raise the first failure (after all jobs ran); with
            False a failed job's result is ``{"passed": False, "error":
            message, "path": path}``.

    Returns:
        One report per job, in order.
    """
    import keras

    common = dict(
        opset=opset, overwrite=overwrite, tolerance=tolerance, onnx_ops=onnx_ops,
        batch_sizes=list(batch_sizes), lengths=list(lengths) if lengths else None, seed=seed,
    )
    specs = []
    for job in jobs:
        if isinstance(job, (tuple, list)):
            job = {"model": job[0], "path": job[1]}
        job = dict(job)
        if "path" not in job or ("model" not in job and "model_path" not in job):
            raise ExportError("each export job needs a path and a model (or model_path)")
        spec = {**common, **{k: v for k, v in job.items() if v is not None}}
        spec["formats"] = resolve_formats(job.get("format") or format)
        spec["streaming"] = bool(job.get("streaming", streaming))
        spec["path"] = str(Path(job["path"]).expanduser().absolute())
        specs.append(spec)
    log = _log_function(verbose)
    backend = keras.backend.backend()
    if backend == "tensorflow":
        results = _run_in_process(specs, log)
    else:
        results = _run_in_worker(specs, backend, verbose, check_trained_backend)
    if raise_errors:
        for result in results:
            if isinstance(result, ExportError):
                raise result
    return [
        result if not isinstance(result, ExportError)
        else {"passed": False, "error": str(result), "path": spec["path"], **({"report": result.report} if getattr(result, "report", None) else {})}
        for result, spec in zip(results, specs)
    ]


def _run_in_process(specs, log):
    from kerasrnn.export.tf_export import export_one

    results = []
    for spec in specs:
        spec.setdefault("trained_backend", "tensorflow")
        try:
            results.append(export_one(spec, log=log))
        except ExportError as error:
            log(f"  export failed: {error}")
            results.append(error)
    return results


def _run_in_worker(specs, backend, verbose, check_trained_backend=True):
    """Saves each model as .keras, computes its outputs here, and exports in a TF worker."""
    import keras

    from kerasrnn.export import parity as parity_lib
    from kerasrnn.export.graph import dynamic_time_twin
    from kerasrnn.export.graph import input_description
    from kerasrnn.export.tf_export import check_destination

    results = [None] * len(specs)
    with tempfile.TemporaryDirectory(prefix="kerasrnn-export-") as workspace:
        workspace = Path(workspace)
        worker_jobs, positions = [], []
        for index, spec in enumerate(specs):
            try:
                check_destination(spec["path"], spec.get("overwrite", False))
                model = spec.pop("model", None)
                if model is not None and spec.get("streaming"):
                    from kerasrnn.export.streaming import build_streaming_model

                    build_streaming_model(model)  # a bidirectional model fails here, before the worker
                if model is not None:
                    # Run the model here, as trained: the worker checks the
                    # artifacts against these outputs too.
                    if not spec.get("model_path"):
                        spec["model_path"] = str(workspace / f"model_{index}.keras")
                        try:
                            model.save(spec["model_path"])
                        except Exception as error:  # noqa: BLE001
                            raise ExportError(
                                f"cannot save {model.name} as .keras for the TensorFlow export: "
                                f"{type(error).__name__}: {error}"
                            ) from None
                    spec.setdefault("trained_backend", backend)
                if model is not None and check_trained_backend:
                    description = input_description(model)
                    twin = dynamic_time_twin(model)
                    cases = parity_lib.make_cases(
                        description, batch_sizes=spec["batch_sizes"], lengths=spec.get("lengths"),
                        max_seen_length=spec.get("max_seen_length"), seed=int(spec.get("seed", 0)),
                    )
                    outputs = [keras.ops.convert_to_numpy(twin(case["x"], training=False)) for case in cases]
                    spec["cases_path"] = str(workspace / f"cases_{index}.npz")
                    parity_lib.save_cases(spec["cases_path"], cases, outputs)
                worker_jobs.append(spec)
                positions.append(index)
            except Exception as error:  # noqa: BLE001 - reported per job
                if not isinstance(error, ExportError):
                    error = ExportError(f"export failed: {type(error).__name__}: {str(error).strip()[:300]}")
                if verbose:
                    print(f"  export failed: {error}", flush=True)
                results[index] = error
        if worker_jobs:
            for index, result in zip(positions, _call_worker(workspace, worker_jobs, verbose)):
                results[index] = result
    return results


def _call_worker(workspace, jobs, verbose):
    jobs_file = workspace / "jobs.json"
    results_file = workspace / "results.json"
    jobs_file.write_text(json.dumps(jobs, default=str), encoding="utf-8")
    env = dict(os.environ)
    env["KERAS_BACKEND"] = "tensorflow"
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    command = [sys.executable, "-m", WORKER_MODULE, str(jobs_file), str(results_file)]
    before = {job["path"]: _staging_dirs(job["path"]) for job in jobs}
    process = subprocess.run(
        command, env=env, stdout=None if verbose else subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    if not results_file.is_file():
        # A worker that died (killed, out of memory) cannot clean up after itself.
        for job in jobs:
            for leftover in _staging_dirs(job["path"]) - before[job["path"]]:
                shutil.rmtree(leftover, ignore_errors=True)
        tail = [line for line in (process.stderr or "").strip().splitlines() if line.strip()][-5:]
        message = (
            f"the TensorFlow export worker failed (exit {process.returncode})"
            + (": " + " | ".join(tail) if tail else "")
        )
        return [ExportError(message) for _ in jobs]
    outcomes = json.loads(results_file.read_text(encoding="utf-8"))
    results = []
    for outcome in outcomes:
        if outcome.get("ok"):
            results.append(outcome["report"])
        elif outcome.get("report") is not None:
            results.append(ParityError(outcome["error"], outcome["report"]))
        else:
            results.append(ExportError(outcome["error"]))
    return results


def _staging_dirs(path):
    """The temporary directories of exports to ``path`` that exist now."""
    path = Path(path)
    try:
        return {p for p in path.parent.iterdir() if p.name.startswith(f".{path.name}.tmp-")}
    except OSError:
        return set()


def _load_model(path):
    import keras

    import kerasrnn  # noqa: F401  (registers the layers)

    try:
        return keras.saving.load_model(str(path), compile=False)
    except Exception as error:  # noqa: BLE001 - any loader failure is the same user error
        lines = str(error).strip().splitlines()
        raise ExportError(
            f"cannot load the model {path}: {type(error).__name__}: {lines[0][:300] if lines else ''}"
        ) from None


# --------------------------------------------------------------------------- #
# Run directories
# --------------------------------------------------------------------------- #


def _first(record, *paths):
    """The first non-empty value at one of the dotted ``paths`` of ``record``."""
    for path in paths:
        value = record
        for key in path.split("."):
            value = value.get(key) if isinstance(value, dict) else None
        if value not in (None, "", []):
            return value
    return None


def read_run(run_dir):
    """``(model_path, metadata, max_seen_length, trained_backend)`` of a run directory.

    Reads ``config.json`` tolerantly: the training record (``config``,
    ``data``, ``environment`` sections) or a flat object with the same keys.

    Raises:
        ExportError: no directory, no ``model.keras``, or an unreadable
            ``config.json``.
    """
    run_dir = Path(run_dir).expanduser()
    if not run_dir.is_dir():
        raise ExportError(f"run directory not found: {run_dir}")
    model_path = run_dir / "model.keras"
    config_path = run_dir / "config.json"
    if not config_path.is_file():
        raise ExportError(f"{run_dir} is not a kerasrnn run directory (no config.json)")
    try:
        record = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ExportError(f"corrupt run directory {run_dir}: cannot read config.json ({error})") from None
    if not isinstance(record, dict):
        raise ExportError(f"corrupt run directory {run_dir}: config.json is not a JSON object")
    if not model_path.is_file():
        status = record.get("status")
        hint = f" (run status: {status})" if status else ""
        raise ExportError(f"{run_dir} has no model.keras{hint}; nothing to export")
    input_shape = _first(record, "data.input_shape", "input_shape", "dataset.input_shape")
    variable = _first(record, "data.variable_length", "variable_length")
    max_seen = None
    if variable and isinstance(input_shape, list) and input_shape and isinstance(input_shape[0], int):
        max_seen = input_shape[0]
    backend = _first(record, "config.backend", "environment.backend", "backend")
    metadata = {
        "architecture": _first(record, "config.arch", "arch", "architecture"),
        "task": _first(record, "data.task", "config.task", "task"),
        "class_names": _first(record, "data.class_names", "class_names", "dataset.class_names"),
        "trained_backend": backend,
        "run": {
            "run_dir": str(run_dir.absolute()),
            "dataset": _first(record, "config.dataset", "dataset.name", "dataset"),
            "data_source": _first(record, "data.source"),
            "trained_input_shape": input_shape,
            "variable_length": bool(variable) if variable is not None else None,
            "status": record.get("status"),
        },
    }
    for key in ("units", "layers", "merge_mode", "dropout", "seed", "preset"):
        value = _first(record, f"config.{key}", key)
        if value is not None:
            metadata["run"][key] = value
    if not isinstance(metadata["run"]["dataset"], (str, type(None))):
        metadata["run"]["dataset"] = None
    return model_path, metadata, max_seen, backend


def export_run(
    run_dir,
    format="all",
    out=None,
    *,
    opset=None,
    streaming=False,
    overwrite=False,
    tolerance=1e-5,
    onnx_ops="auto",
    seed=0,
    verbose=True,
):
    """Exports the model of a ``kerasrnn fit`` run directory.

    The output defaults to ``RUN_DIR/export``. The metadata (architecture,
    task, class names, the backend it trained on, data set) comes from the
    run's ``config.json``. See :func:`export_model` for the other arguments.

    Raises:
        ExportError: see :func:`export_model`, and for a missing or corrupt
            run directory.
    """
    import keras

    formats = resolve_formats(format)  # unknown format: fail before anything else
    model_path, metadata, max_seen, trained_backend = read_run(run_dir)
    out = Path(out).expanduser() if out else Path(run_dir).expanduser() / "export"
    from kerasrnn.export.tf_export import check_destination

    check_destination(out, overwrite)
    job = {"path": out, "metadata": metadata, "max_seen_length": max_seen, "trained_backend": trained_backend}
    current = keras.backend.backend()
    if current == "tensorflow":
        job["model"] = _load_model(model_path)
    elif trained_backend in (None, current):
        # Run here as trained; the TensorFlow worker checks against it too.
        job["model"] = _load_model(model_path)
        job["model_path"] = str(model_path)
    else:
        job["model_path"] = str(model_path)
    return export_models(
        [job], format=formats[0] if len(formats) == 1 else "all", opset=opset, streaming=streaming,
        overwrite=overwrite, tolerance=tolerance, onnx_ops=onnx_ops, seed=seed, verbose=verbose,
    )[0]
