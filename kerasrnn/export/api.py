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

Destinations
------------
Before anything is written, each job's destination is checked
(:func:`kerasrnn.export.staging.check_destination`: ``overwrite`` replaces
only an earlier export or an empty directory), locked
(:func:`kerasrnn.export.staging.lock`, held until the job is done; on
JAX/torch the worker inherits the lock) and cleared of what killed exports
left beside it (:func:`kerasrnn.export.staging.remove_leftovers`). The worker
dies with its caller (:mod:`kerasrnn.export.worker`).

Output layout (a directory, written under a temporary name beside it and
renamed into place only when every parity figure is within the tolerance; a
path ending in ``.onnx`` is the ONNX file alone, with the metadata and the
parity report in its ``metadata_props``)::

    OUT/
      savedmodel/                 signatures: serve (+ serving_default), metadata
      model.onnx                  metadata_props: kerasrnn, architecture, ...
      streaming/savedmodel/       with streaming=True: x_t + states -> y_t + states
      streaming/model.onnx
      metadata.json               architecture, task, input spec, class names, versions
      parity.json                 the parity figures
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from kerasrnn.export import staging
from kerasrnn.export.errors import ExportError, ParityError, one_line
from kerasrnn.export.job import (
    DEFAULT_BATCH_SIZES,
    DEFAULT_TOLERANCE,
    FORMATS,
    ExportJob,
    check_single_file,
    load_model,
    resolve_formats,
)
from kerasrnn.export.staging import check_destination

__all__ = ["FORMATS", "export_model", "export_models", "export_run", "read_run", "resolve_formats"]

WORKER_MODULE = "kerasrnn.export.worker"
#: ``export_run``'s output inside the run directory when none is given.
DEFAULT_OUT = "export"
logger = logging.getLogger(__name__)

#: A request of :func:`export_models`: an :class:`ExportJob`, a ``(model, path)`` pair or a dict.
JobRequest = ExportJob | tuple | list | Mapping[str, Any]


def _level(verbose: bool) -> int:
    """The level of progress messages: INFO, or DEBUG when not ``verbose``."""
    return logging.INFO if verbose else logging.DEBUG


def export_model(
    model: Any,
    path: str | os.PathLike,
    format: str = "all",
    *,
    metadata: Mapping[str, Any] | None = None,
    opset: int | None = None,
    streaming: bool = False,
    overwrite: bool = False,
    tolerance: float = DEFAULT_TOLERANCE,
    onnx_ops: str = "auto",
    batch_sizes: Iterable[int] = DEFAULT_BATCH_SIZES,
    lengths: Iterable[int] | None = None,
    max_seen_length: int | None = None,
    seed: int = 0,
    check_trained_backend: bool = True,
    verbose: bool = True,
) -> dict[str, Any]:
    """Exports a Keras model to SavedModel and/or ONNX with verified parity.

    Args:
        model: A built single-input, single-output Keras model over sequences
            ``(batch, time, ...)``, e.g. from :func:`kerasrnn.build_model`.
        path: Output directory (must not exist unless ``overwrite``); a
            path ending in ``.onnx`` is one ONNX file (``format="onnx"``,
            no ``streaming``), with the metadata and the parity report in
            its ``metadata_props`` (``kerasrnn``, ``kerasrnn_parity``).
        format: ``"savedmodel"``, ``"onnx"`` or ``"all"``.
        metadata: Optional dict stored with the export (``architecture``,
            ``task``, ``class_names``, anything JSON-able); architecture and
            task are otherwise read from a ``build_model`` model's name.
        opset: ONNX opset (default 17).
        streaming: Also write the single-step model
            (:func:`~kerasrnn.export.build_streaming_model`) in the same
            format(s); unidirectional models only.
        overwrite: Replace an existing export at ``path``: only a directory
            that is a kerasrnn export (or empty), or a ``.onnx`` file that
            kerasrnn exported; never a run directory or a directory holding
            anything else.
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
        verbose: Log the progress and the figures at INFO on the
            ``kerasrnn.export`` logger (else at DEBUG). Nothing is printed
            unless logging is configured (``kerasrnn export`` does).

    Returns:
        The parity report (also written to ``path/parity.json``).

    Raises:
        ExportError: Unknown format, unwritable path, a destination that may
            not be replaced, another process writing ``path``, a model that
            cannot be exported, or (:class:`~kerasrnn.export.ParityError`) an
            artifact off by more than ``tolerance``. Nothing is left at ``path``.

    Example::

        model = kerasrnn.build_model("bigru", "classification", (28, 28), 10)
        report = kerasrnn.export.export_model(model, "bigru-export", format="onnx")
    """
    results = export_models(
        [{"model": model, "path": path, "metadata": metadata, "max_seen_length": max_seen_length}],
        format=format,
        opset=opset,
        streaming=streaming,
        overwrite=overwrite,
        tolerance=tolerance,
        onnx_ops=onnx_ops,
        batch_sizes=batch_sizes,
        lengths=lengths,
        seed=seed,
        verbose=verbose,
        check_trained_backend=check_trained_backend,
        raise_errors=True,
    )
    return results[0]


def export_models(
    jobs: Iterable[JobRequest],
    format: str = "all",
    *,
    opset: int | None = None,
    streaming: bool = False,
    overwrite: bool = False,
    tolerance: float = DEFAULT_TOLERANCE,
    onnx_ops: str = "auto",
    batch_sizes: Iterable[int] = DEFAULT_BATCH_SIZES,
    lengths: Iterable[int] | None = None,
    seed: int = 0,
    check_trained_backend: bool = True,
    verbose: bool = True,
    raise_errors: bool = True,
) -> list[dict[str, Any]]:
    """:func:`export_model` for several models, sharing one TensorFlow worker off TensorFlow.

    Args:
        jobs: :class:`~kerasrnn.export.job.ExportJob` values (taken as
            they are), ``(model, path)`` pairs, or dicts with ``model`` (or
            ``model_path``, a ``.keras`` file), ``path`` and optionally any
            other :class:`ExportJob` field (``metadata``, ``streaming``,
            ``format``, ``max_seen_length``, ``trained_backend``,
            ``tolerance``, ...), which win over the arguments here.
        raise_errors: Raise the first failure (after all jobs ran); with
            False a failed job's result is ``{"passed": False, "error":
            message, "path": path}``.

    Returns:
        One report per job, in order.

    Raises:
        ExportError: a job or an option is invalid (before anything runs);
            with ``raise_errors``, the first failed export.
    """
    import keras

    common = {
        "formats": format,
        "opset": opset,
        "streaming": streaming,
        "overwrite": overwrite,
        "tolerance": tolerance,
        "onnx_ops": onnx_ops,
        "batch_sizes": tuple(batch_sizes),
        "lengths": tuple(lengths) if lengths else None,
        "seed": seed,
    }
    specs = [_as_job(job, common) for job in jobs]
    level = _level(verbose)
    backend = keras.backend.backend()
    with contextlib.ExitStack() as held:
        results: list[dict[str, Any] | ExportError | None] = []
        locks = _claim(specs, held, results, level)
        ready = [index for index, result in enumerate(results) if result is None]
        if backend == "tensorflow":
            done = _run_in_process([specs[i] for i in ready], level)
        else:
            fds = [lock.fileno() for lock in locks if lock.held]
            done = _run_in_worker([specs[i] for i in ready], backend, level, check_trained_backend, fds)
        for index, result in zip(ready, done):
            results[index] = result
    if raise_errors:
        for result in results:
            if isinstance(result, ExportError):
                raise result
    return [
        result if not isinstance(result, ExportError) else _failure(result, spec)
        for result, spec in zip(results, specs)
    ]


def _as_job(job: JobRequest, common: dict[str, Any]) -> ExportJob:
    """One request of :func:`export_models` as an :class:`ExportJob` (its own values win)."""
    if isinstance(job, ExportJob):
        return job
    if isinstance(job, (tuple, list)):
        job = {"model": job[0], "path": job[1]}
    values = {key: value for key, value in dict(job).items() if value is not None}
    if "path" not in values or ("model" not in values and "model_path" not in values):
        raise ExportError("each export job needs a path and a model (or model_path)")
    if "format" in values or "formats" in values:
        values["formats"] = values.pop("format", None) or values["formats"]
    return ExportJob.from_dict({**common, **values})


def _claim(jobs: list[ExportJob], held: contextlib.ExitStack, outcomes: list, level: int) -> list[Any]:
    """Checks, locks and clears each job's destination; returns the locks (released by ``held``).

    Appends one entry per job to ``outcomes``: None (ready) or the
    :class:`ExportError` that refuses it (a destination that cannot receive
    it, one that holds the job's own model file, one that another job or
    process is writing).
    """
    locks = []
    claimed: set[Path] = set()
    for job in jobs:
        try:
            if job.path in claimed:
                raise ExportError(f"{staging.WHAT} {job.path} is the destination of two jobs")
            check_destination(job.path, job.overwrite)
            if job.model_path is not None:
                _check_outside(job.path, {"the model file": job.model_path})
            locks.append(held.enter_context(staging.lock(job.path)))
            claimed.add(job.path)
            staging.remove_leftovers(job.path)
        except ExportError as error:
            logger.log(level, f"  export failed: {error}")
            outcomes.append(error)
            continue
        outcomes.append(None)
    return locks


def _check_outside(path: Path, protected: Mapping[str, str | os.PathLike]) -> None:
    """Refuses an output that is, is inside or holds one of the ``protected`` paths (what the job reads)."""
    from kerasrnn.storage.destinations import DestinationError, check_outside

    try:
        check_outside(path, staging.WHAT, dict(protected))
    except DestinationError as error:
        raise ExportError(str(error)) from None


def _failure(error: ExportError, job: ExportJob) -> dict[str, Any]:
    result = {"passed": False, "error": str(error), "path": str(job.path)}
    if getattr(error, "report", None):
        result["report"] = error.report
    return result


def _run_in_process(jobs: list[ExportJob], level: int) -> list[dict[str, Any] | ExportError]:
    from kerasrnn.export.tf_export import export_one

    results = []
    for job in jobs:
        job = job.replace(trained_backend=job.trained_backend or "tensorflow")
        try:
            results.append(export_one(job, level=level))
        except ExportError as error:
            logger.log(level, f"  export failed: {error}")
            results.append(error)
    return results


def _run_in_worker(
    jobs: list[ExportJob],
    backend: str,
    level: int,
    check_trained_backend: bool = True,
    lock_fds: Iterable[int] = (),
) -> list[dict[str, Any] | ExportError]:
    """Saves each model as .keras, computes its outputs here, and exports in a TF worker.

    ``lock_fds``: the destinations' locks, which the worker inherits (so that
    a lock holds as long as either process runs).
    """
    results: list[dict[str, Any] | ExportError | None] = [None] * len(jobs)
    with tempfile.TemporaryDirectory(prefix="kerasrnn-export-") as workspace:
        workspace = Path(workspace)
        worker_jobs, positions = [], []
        for index, job in enumerate(jobs):
            try:
                worker_jobs.append(_for_worker(job, index, workspace, backend, check_trained_backend))
                positions.append(index)
            except Exception as error:  # noqa: BLE001 - reported per job
                if not isinstance(error, ExportError):
                    error = ExportError(f"export failed: {type(error).__name__}: {one_line(error)}")
                logger.log(level, f"  export failed: {error}")
                results[index] = error
        if worker_jobs:
            for index, result in zip(positions, _call_worker(workspace, worker_jobs, level, lock_fds)):
                results[index] = result
    return results


def _for_worker(job: ExportJob, index: int, workspace: Path, backend: str, check_trained_backend: bool) -> ExportJob:
    """The job as the worker gets it: the model saved as ``.keras``, and (with
    ``check_trained_backend``) its outputs here, as trained, on the parity inputs."""
    check_destination(job.path, job.overwrite)
    model = job.model
    if model is None:
        return job
    from kerasrnn.export.encoder_decoder import check_request, is_encoder_decoder

    if is_encoder_decoder(model):
        check_request(job.path, job.formats, job.streaming)
    if job.streaming:
        from kerasrnn.export.streaming import build_streaming_model

        build_streaming_model(model)  # a bidirectional model fails here, before the worker
    changes: dict[str, Any] = {"model": None, "trained_backend": job.trained_backend or backend}
    if job.model_path is None:
        changes["model_path"] = workspace / f"model_{index}.keras"
        try:
            model.save(changes["model_path"])
        except Exception as error:  # noqa: BLE001
            raise ExportError(
                f"cannot save {model.name} as .keras for the TensorFlow export: {type(error).__name__}: {error}"
            ) from None
    if check_trained_backend:
        changes["cases_path"] = workspace / f"cases_{index}.npz"
        _save_trained_outputs(model, job, changes["cases_path"])
    return job.replace(**changes)


def _save_trained_outputs(model: Any, job: ExportJob, path: Path) -> None:
    import keras

    from kerasrnn.export import encoder_decoder
    from kerasrnn.export import parity as parity_lib
    from kerasrnn.export.graph import dynamic_time_twin, input_description

    if encoder_decoder.is_encoder_decoder(model):
        encoder_decoder.save_trained_outputs(model, job, path)
        return
    description = input_description(model)
    twin = dynamic_time_twin(model)
    cases = parity_lib.make_cases(
        description,
        batch_sizes=job.batch_sizes,
        lengths=job.lengths,
        max_seen_length=job.max_seen_length,
        seed=job.seed,
    )
    outputs = [keras.ops.convert_to_numpy(twin(case["x"], training=False)) for case in cases]
    parity_lib.save_cases(path, cases, outputs)


def _call_worker(
    workspace: Path, jobs: list[ExportJob], level: int, lock_fds: Iterable[int] = ()
) -> list[dict[str, Any] | ExportError]:
    """Runs the worker on ``jobs``; its messages are logged here, line by line, at ``level``."""
    from kerasrnn.export.staging import remove_new_staging
    from kerasrnn.storage.atomic import staging_directories

    jobs_file = workspace / "jobs.json"
    results_file = workspace / "results.json"
    jobs_file.write_text(json.dumps([job.to_dict() for job in jobs], default=str), encoding="utf-8")
    before = {job.path: staging_directories(job.path) for job in jobs}
    returncode, stderr = _run_worker_process(workspace, jobs_file, results_file, level, lock_fds)
    if not results_file.is_file():
        # A worker that died (killed, out of memory) cannot clean up after itself.
        for job in jobs:
            remove_new_staging(job.path, before[job.path])
        tail = [line for line in stderr.strip().splitlines() if line.strip()][-5:]
        message = f"the TensorFlow export worker failed (exit {returncode})" + (": " + " | ".join(tail) if tail else "")
        return [ExportError(message) for _ in jobs]
    outcomes = json.loads(results_file.read_text(encoding="utf-8"))
    results: list[dict[str, Any] | ExportError] = []
    for outcome in outcomes:
        if outcome.get("ok"):
            results.append(outcome["report"])
        elif outcome.get("report") is not None:
            results.append(ParityError(outcome["error"], outcome["report"]))
        else:
            results.append(ExportError(outcome["error"]))
    return results


def _run_worker_process(
    workspace: Path, jobs_file: Path, results_file: Path, level: int, lock_fds: Iterable[int] = ()
) -> tuple[int, str]:
    """``(exit status, stderr)`` of ``python -m kerasrnn.export.worker``; its stdout lines are logged.

    The worker is told this process's pid (``KERASRNN_EXPORT_PARENT``) and
    dies with it; it inherits ``lock_fds``.
    """
    from kerasrnn.export.worker import PARENT_ENV

    env = dict(os.environ)
    env[PARENT_ENV] = str(os.getpid())
    env["KERAS_BACKEND"] = "tensorflow"
    env["PYTHONIOENCODING"] = "utf-8"
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    command = [sys.executable, "-m", WORKER_MODULE, str(jobs_file), str(results_file)]
    stderr_file = workspace / "worker.stderr"
    with open(stderr_file, "w", encoding="utf-8") as stderr:
        process = subprocess.Popen(
            command,
            env=env,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            encoding="utf-8",
            errors="replace",
            pass_fds=tuple(lock_fds),
        )
        try:
            for line in process.stdout:
                logger.log(level, line.rstrip("\n"))
            returncode = process.wait()
        except BaseException:
            process.kill()
            process.wait()
            raise
        finally:
            process.stdout.close()
    return returncode, stderr_file.read_text(encoding="utf-8", errors="replace")


# --------------------------------------------------------------------------- #
# Run directories
# --------------------------------------------------------------------------- #


def _first(record: Any, *paths: str) -> Any:
    """The first non-empty value at one of the dotted ``paths`` of ``record``."""
    for path in paths:
        value = record
        for key in path.split("."):
            value = value.get(key) if isinstance(value, dict) else None
        if value not in (None, "", []):
            return value
    return None


def read_run(run_dir: str | os.PathLike) -> tuple[Path, dict[str, Any], int | None, str | None]:
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


def _seq2seq_run(run_dir: Path) -> tuple[dict[str, Any], int | None] | None:
    """:func:`kerasrnn.export.encoder_decoder.run_metadata` of a run directory (read_run checked it)."""
    from kerasrnn.export.encoder_decoder import run_metadata

    return run_metadata(json.loads((run_dir / "config.json").read_text(encoding="utf-8")))


def export_run(
    run_dir: str | os.PathLike,
    format: str = "all",
    out: str | os.PathLike | None = None,
    *,
    opset: int | None = None,
    streaming: bool = False,
    overwrite: bool = False,
    tolerance: float | None = None,
    onnx_ops: str = "auto",
    seed: int = 0,
    verbose: bool = True,
) -> dict[str, Any]:
    """Exports the model of a ``kerasrnn fit`` run directory.

    The output defaults to ``RUN_DIR/export``; any other output must not be,
    lie inside or hold the run directory. The metadata (architecture,
    task, class names, the backend it trained on, data set) comes from the
    run's ``config.json``. ``tolerance`` defaults to 1e-5, and to 1e-4 for a
    sequence-to-sequence run (:mod:`kerasrnn.export.encoder_decoder`). See
    :func:`export_model` for the other arguments.

    Raises:
        ExportError: see :func:`export_model`, and for a missing or corrupt
            run directory.
    """
    import keras

    formats = resolve_formats(format)  # unknown format: fail before anything else
    model_path, metadata, max_seen, trained_backend = read_run(run_dir)
    run_dir = Path(run_dir).expanduser()
    default_out = run_dir / DEFAULT_OUT
    out = Path(out).expanduser() if out else default_out
    seq2seq = _seq2seq_run(run_dir)
    if seq2seq is not None:  # encoder + decoder step (kerasrnn.export.encoder_decoder)
        from kerasrnn.export.encoder_decoder import check_request

        check_request(out, formats, streaming)
        metadata.update(seq2seq[0])
        max_seen = seq2seq[1]
    if tolerance is None:
        from kerasrnn.export import encoder_decoder

        tolerance = DEFAULT_TOLERANCE if seq2seq is None else encoder_decoder.TOLERANCE
    check_single_file(out, formats, streaming)
    if out.resolve() != default_out.resolve():  # the default is inside the run, by design
        _check_outside(out, {"the run directory": run_dir})
    check_destination(out, overwrite)
    job: dict[str, Any] = {
        "path": out,
        "metadata": metadata,
        "max_seen_length": max_seen,
        "trained_backend": trained_backend,
    }
    current = keras.backend.backend()
    if current == "tensorflow":
        job["model"] = load_model(model_path)
    elif trained_backend in (None, current):
        # Run here as trained; the TensorFlow worker checks against it too.
        job["model"] = load_model(model_path)
        job["model_path"] = model_path
    else:
        job["model_path"] = model_path
    return export_models(
        [job],
        format=formats[0] if len(formats) == 1 else "all",
        opset=opset,
        streaming=streaming,
        overwrite=overwrite,
        tolerance=tolerance,
        onnx_ops=onnx_ops,
        seed=seed,
        verbose=verbose,
    )[0]
