"""The TensorFlow side of the exporter: writes and checks the artifacts.

Runs only with ``KERAS_BACKEND=tensorflow`` (in the caller's process on that
backend, in a worker subprocess otherwise; see :mod:`kerasrnn.export.api`).

One export (:func:`export_one`):

1. the model is rebuilt behind an input with a free time axis (same layers,
   same weights: :func:`~kerasrnn.export.graph.dynamic_time_twin`);
2. the artifacts are written into a temporary directory beside the output
   path: a SavedModel (laid out as ``keras.export.ExportArchive`` does; signatures ``serve``,
   its ``serving_default`` alias and ``metadata``), an ONNX file (native
   recurrent operators where :mod:`~kerasrnn.export.native_onnx` can write
   them and they pass parity, else tf2onnx's graph), and with streaming the
   single-step model in the same formats;
3. every artifact is reloaded (``tf.saved_model.load``, onnxruntime) and
   compared with the Keras model on the parity grid;
4. ``metadata.json`` and ``parity.json`` are written beside the artifacts and
   the directory is renamed to the output path -- only if every figure is
   within the tolerance. On any failure the temporary directory is removed
   and nothing is left at the output path.
"""

import json
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from kerasrnn.export import parity as parity_lib
from kerasrnn.export.errors import ExportError
from kerasrnn.export.errors import ParityError
from kerasrnn.export.graph import dynamic_time_twin
from kerasrnn.export.graph import input_description
from kerasrnn.export.metadata import describe
from kerasrnn.export.metadata import onnx_props

DEFAULT_OPSET = 17
ONNX_OPS = ("auto", "native", "tf2onnx")
SAVEDMODEL_DIR = "savedmodel"
ONNX_FILE = "model.onnx"
STREAMING_DIR = "streaming"
METADATA_FILE = "metadata.json"
PARITY_FILE = "parity.json"
METADATA_ASSET = "kerasrnn_metadata.json"


# --------------------------------------------------------------------------- #
# Destination: temporary directory beside the output, renamed on success
# --------------------------------------------------------------------------- #


def check_destination(path, overwrite=False):
    """Fails fast (without creating anything) if ``path`` cannot receive an export."""
    path = Path(path).expanduser().absolute()
    if path.exists() or path.is_symlink():
        if not overwrite:
            raise ExportError(f"{path} already exists; choose another output path or overwrite it")
        if not path.is_dir():
            raise ExportError(f"{path} exists and is not an export directory; remove it or choose another path")
    ancestor = path.parent
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise ExportError(f"cannot write the export to {path}: {ancestor} is not a directory")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise ExportError(f"cannot write the export to {path}: {ancestor} is not writable")
    return path


class _Staging:
    """A temporary directory beside ``final``; :meth:`commit` renames it into place."""

    def __init__(self, final, overwrite):
        self.final = check_destination(final, overwrite)
        self.overwrite = overwrite
        self.created = []  # parent directories this export created
        parent = self.final.parent
        missing = []
        while not parent.exists():
            missing.append(parent)
            parent = parent.parent
        try:
            for directory in reversed(missing):
                directory.mkdir()
                self.created.append(directory)
            self.path = Path(tempfile.mkdtemp(prefix=f".{self.final.name}.tmp-", dir=self.final.parent))
        except OSError as error:
            self._remove_created()
            raise ExportError(
                f"cannot write the export to {self.final}: {error.strerror or error}"
            ) from None

    def commit(self):
        # mkdtemp made it private (0700); give it the permissions of a new directory.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(self.path, 0o777 & ~umask)
        backup = None
        try:
            if self.final.exists():
                backup = Path(tempfile.mkdtemp(prefix=f".{self.final.name}.old-", dir=self.final.parent))
                os.rmdir(backup)
                os.rename(self.final, backup)
            os.rename(self.path, self.final)
        except OSError as error:
            if backup is not None and backup.exists() and not self.final.exists():
                os.rename(backup, self.final)
            raise ExportError(f"cannot move the export into {self.final}: {error.strerror or error}") from None
        if backup is not None:
            shutil.rmtree(backup, ignore_errors=True)

    def discard(self):
        shutil.rmtree(self.path, ignore_errors=True)
        self._remove_created()

    def _remove_created(self):
        for directory in reversed(self.created):
            try:
                directory.rmdir()
            except OSError:
                break
        self.created = []


# --------------------------------------------------------------------------- #
# Writing
# --------------------------------------------------------------------------- #


def _tf():
    import keras

    if keras.backend.backend() != "tensorflow":
        raise RuntimeError(
            "kerasrnn.export.tf_export runs under KERAS_BACKEND=tensorflow; other backends export "
            "through kerasrnn.export.export_model, which starts a TensorFlow worker"
        )
    import tensorflow as tf

    return tf


def _model_spec(description):
    tf = _tf()
    return tf.TensorSpec(
        [None, None, *description["step_shape"]], tf.as_dtype(description["dtype"]), name=description["name"]
    )


def _step_specs(info):
    tf = _tf()
    return [tf.TensorSpec(spec["shape"], tf.as_dtype(spec.get("dtype", "float32")), name=spec["name"]) for spec in info["inputs"]]


def _serve_function(model):
    def serve(x):
        return {"outputs": model(x, training=False)}

    return serve


def _step_function(step_model, info):
    names = [spec["name"] for spec in info["outputs"]]

    def serve(*args):
        outputs = step_model(list(args), training=False)
        return dict(zip(names, outputs))

    return serve


def traced(fn, signature):
    """``fn`` as a ``tf.function`` traced once for ``signature`` (shared by both writers)."""
    tf = _tf()
    function = tf.function(fn, input_signature=signature, autograph=False)
    function.get_concrete_function()
    return function


def write_savedmodel(path, model, function, metadata):
    """A SavedModel with signatures ``serve`` (+ its ``serving_default`` alias) and ``metadata``.

    The same object layout as ``keras.export.ExportArchive`` writes (the
    model's variables tracked on an ``AutoTrackable``), saved directly.
    """
    tf = _tf()
    text = json.dumps(metadata, sort_keys=True)
    root = tf.__internal__.tracking.AutoTrackable()
    root.variables = list(model.variables)
    root.serve = function
    root.metadata = tf.function(lambda: {"json": tf.constant(text)}, input_signature=[], autograph=False)
    serve = function.get_concrete_function()
    signatures = {"serve": serve, "serving_default": serve, "metadata": root.metadata.get_concrete_function()}
    tf.saved_model.save(root, str(path), signatures=signatures)
    (Path(path) / "assets").mkdir(exist_ok=True)
    (Path(path) / "assets" / METADATA_ASSET).write_text(json.dumps(metadata, indent=2, sort_keys=True) + "\n")


def tf2onnx_proto(function, signature, opset):
    """tf2onnx's conversion of a traced function (what ``model.export(format="onnx")`` uses)."""
    try:
        import tf2onnx
    except ImportError:
        raise ExportError(
            "ONNX export needs tf2onnx: pip install tf2onnx (or kerasrnn[onnx])"
        ) from None
    from keras.src.export.tf2onnx_lib import patch_tf2onnx

    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # np.object, touched by the patch
        patch_tf2onnx()  # numpy 2 compatibility, as keras' own exporter does
    logging.getLogger("tf2onnx").setLevel(logging.ERROR)
    proto, _ = tf2onnx.convert.from_function(function, input_signature=signature, opset=opset)
    return proto


def _finish_onnx(proto, metadata):
    from onnx import helper

    del proto.metadata_props[:]
    helper.set_model_props(proto, onnx_props(metadata))
    proto.doc_string = f"kerasrnn export of {metadata.get('model_name')} ({metadata.get('architecture')})"
    return proto


def recurrent_ops(proto):
    """The recurrent operators of an ONNX graph (top level): e.g. ``["GRU"]`` or ``["Loop"]``."""
    kinds = ("RNN", "GRU", "LSTM", "Loop", "Scan")
    return sorted({node.op_type for node in proto.graph.node if node.op_type in kinds})


def _ort_session(source):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])


# --------------------------------------------------------------------------- #
# Running the artifacts
# --------------------------------------------------------------------------- #


def _numpy(value):
    import keras

    return np.asarray(keras.ops.convert_to_numpy(value))


class _OnnxRunner:
    def __init__(self, source, input_names, output_names):
        self.session = _ort_session(source)
        have = {i.name for i in self.session.get_inputs()} | {o.name for o in self.session.get_outputs()}
        missing = [name for name in [*input_names, *output_names] if name not in have]
        if missing:
            raise ExportError(f"the ONNX graph lacks the inputs/outputs {missing}")
        self.inputs = list(input_names)
        self.outputs = list(output_names)

    def __call__(self, *arrays):
        return self.session.run(self.outputs, dict(zip(self.inputs, arrays)))


class _SavedModelRunner:
    def __init__(self, path, input_names, output_names):
        tf = _tf()
        self.tf = tf
        self.fn = tf.saved_model.load(str(path)).signatures["serve"]
        self.input_names = input_names
        self.output_names = output_names

    def __call__(self, *arrays):
        result = self.fn(**{name: self.tf.constant(a) for name, a in zip(self.input_names, arrays)})
        return [result[name].numpy() for name in self.output_names]


def _case_figures(run, cases, references, originals=None):
    figures, worst, worst_original = [], 0.0, 0.0
    for index, case in enumerate(cases):
        output = run(case["x"])[0]
        error = parity_lib.max_abs_error(references[index], output)
        row = {"batch": case["batch"], "length": case["length"], "seen_in_training": case["seen_in_training"],
               "max_abs_error": error}
        worst = max(worst, error)
        if originals is not None:
            original_error = parity_lib.max_abs_error(originals[index], output)
            row["max_abs_error_vs_trained_backend"] = original_error
            worst_original = max(worst_original, original_error)
        figures.append(row)
    result = {"max_abs_error": worst, "cases": figures}
    if originals is not None:
        result["max_abs_error_vs_trained_backend"] = worst_original
    return result


def _streaming_figures(run, step_model, info, description, cases, references, rng):
    """Single steps from random states, and whole sequences stepped from zero states."""
    from kerasrnn.export.streaming import initial_states

    step_errors = []
    for batch in sorted({case["batch"] for case in cases}):
        x = parity_lib.make_inputs({**description, "pad_value": None}, batch, 1, rng)[:, 0]
        states = [(0.5 * rng.standard_normal((batch, *s["shape"][1:]))).astype(np.float32) for s in info["inputs"][1:]]
        expected = [_numpy(v) for v in step_model([x, *states], training=False)]
        got = run(x, *states)
        step_errors.append(max(parity_lib.max_abs_error(e, g) for e, g in zip(expected, got)))
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
        sequence_rows.append(
            {"batch": case["batch"], "length": case["length"], "seen_in_training": case["seen_in_training"],
             "max_abs_error": parity_lib.max_abs_error(reference, got)}
        )
    return {
        "max_abs_error": max([*step_errors, *(row["max_abs_error"] for row in sequence_rows)]),
        "single_step_max_abs_error": max(step_errors),
        "stepped_sequence_vs_full_model": sequence_rows,
    }


# --------------------------------------------------------------------------- #
# One export
# --------------------------------------------------------------------------- #


def _load_model(path):
    import keras

    import kerasrnn  # noqa: F401  (registers the layers)

    try:
        return keras.saving.load_model(str(path), compile=False)
    except Exception as error:  # noqa: BLE001 - any loader failure is the same user error
        raise ExportError(f"cannot load the model {path}: {type(error).__name__}: {_one_line(error)}") from None


def _one_line(error):
    text = str(error).strip().splitlines()
    return text[0][:300] if text else type(error).__name__


def _fmt(value):
    return "0" if value == 0 else f"{value:.1e}"


def export_one(job, log=print):
    """Writes, checks and commits one export; returns its report (``parity.json``'s content).

    ``job`` keys: ``model`` (a Keras model) or ``model_path``; ``path``;
    ``formats`` (``["savedmodel", "onnx"]`` or one of them); optional
    ``metadata``, ``opset``, ``onnx_ops``, ``streaming``, ``overwrite``,
    ``tolerance``, ``batch_sizes``, ``lengths``, ``max_seen_length``,
    ``seed``, ``cases_path`` (an ``.npz`` of inputs and the trained
    backend's outputs), ``trained_backend``.

    Raises:
        ExportError: nothing could be written, a conversion failed, or (as
            :class:`ParityError`) an artifact is off by more than the
            tolerance. Nothing is left at ``path`` then.
    """
    start = time.perf_counter()
    _tf()
    formats = list(job["formats"])
    tolerance = float(job.get("tolerance", parity_lib.DEFAULT_TOLERANCE))
    opset = int(job.get("opset") or DEFAULT_OPSET)
    onnx_ops = job.get("onnx_ops", "auto")
    if onnx_ops not in ONNX_OPS:
        raise ExportError(f"unknown onnx_ops {onnx_ops!r}; expected one of: {', '.join(ONNX_OPS)}")
    staging = _Staging(job["path"], bool(job.get("overwrite")))
    try:
        model = job["model"] if job.get("model") is not None else _load_model(job["model_path"])
        report = _export_into(staging.path, model, job, formats, tolerance, opset, onnx_ops, log)
        report["seconds"] = round(time.perf_counter() - start, 2)
        report["path"] = str(staging.final)
        _write_json(staging.path / PARITY_FILE, report)
        if not report["passed"]:
            failed = [name for name, a in report["artifacts"].items() if not a["passed"]]
            def worst(figures):
                return max(figures["max_abs_error"], figures.get("max_abs_error_vs_trained_backend", 0.0))

            raise ParityError(
                f"parity check failed for {', '.join(failed)}: max abs error "
                + ", ".join(f"{name} {_fmt(worst(report['artifacts'][name]))}" for name in failed)
                + f" > tolerance {tolerance:g}; nothing written to {staging.final}",
                report,
            )
        staging.commit()
    except ExportError:
        staging.discard()
        raise
    except BaseException as error:
        staging.discard()
        if isinstance(error, (KeyboardInterrupt, SystemExit)):
            raise
        raise ExportError(f"export failed: {type(error).__name__}: {_one_line(error)}") from error
    log(f"  parity OK (tolerance {tolerance:g}); wrote {staging.final} in {report['seconds']:.1f} s")
    return report


def _write_json(path, value):
    Path(path).write_text(json.dumps(value, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")


def _export_into(directory, model, job, formats, tolerance, opset, onnx_ops, log):
    import tensorflow as tf

    import kerasrnn
    from kerasrnn.export.native_onnx import NativeUnsupported
    from kerasrnn.export.native_onnx import build_native_onnx
    from kerasrnn.export.native_onnx import prefers_native
    from kerasrnn.export.native_onnx import supports_native

    description = input_description(model)
    twin = dynamic_time_twin(model)  # the reference: Keras' layers, run eagerly
    traced_twin = dynamic_time_twin(model, for_tracing=True)  # what the artifacts are made from
    step = None
    if job.get("streaming"):
        from kerasrnn.export.streaming import build_streaming_model

        step = build_streaming_model(model)  # fails early for a bidirectional model
    originals = None
    if job.get("cases_path"):
        cases, originals = parity_lib.load_cases(job["cases_path"])
    else:
        cases = parity_lib.make_cases(
            description,
            batch_sizes=job.get("batch_sizes") or parity_lib.DEFAULT_BATCH_SIZES,
            lengths=job.get("lengths"),
            max_seen_length=job.get("max_seen_length"),
            seed=int(job.get("seed", 0)),
        )
    # The reference is the Keras model run eagerly. (Tracing can differ:
    # Keras 3.15's TimeDistributed is wrong in a graph with a free time axis.)
    references = [_numpy(twin(case["x"], training=False)) for case in cases]
    signature = [_model_spec(description)]
    serve = traced(_serve_function(traced_twin), signature)
    metadata = describe(model, description, job.get("metadata"))
    metadata["exported_with"] = {
        "tensorflow": tf.__version__,
        "onnx_opset": opset if "onnx" in formats else None,
    }
    trained_backend = job.get("trained_backend") or metadata.get("trained_backend")
    metadata["trained_backend"] = trained_backend
    log(
        f"export {model.name} ({metadata.get('architecture') or 'custom'}) -> {job['path']}  "
        f"[formats: {', '.join(formats)}{', streaming' if job.get('streaming') else ''}]"
    )
    report = {
        "tolerance": tolerance,
        "reference": "keras model run eagerly, tensorflow backend",
        "trained_backend": trained_backend,
        "cases": [{k: case[k] for k in ("batch", "length", "seen_in_training")} for case in cases],
        "artifacts": {},
    }
    if originals is not None:
        report["reference_trained_backend"] = f"keras model, {trained_backend} backend (the model as trained)"
    output_names = ["outputs"]

    def record(name, figures, extra=None):
        worst = figures["max_abs_error"]
        worst = max(worst, figures.get("max_abs_error_vs_trained_backend", 0.0))
        figures["passed"] = bool(worst <= tolerance)
        figures.update(extra or {})
        report["artifacts"][name] = figures
        detail = ", ".join(
            f"b{row['batch']} T{row['length']}{'' if row['seen_in_training'] else '*'} {_fmt(row['max_abs_error'])}"
            for row in figures.get("cases", figures.get("stepped_sequence_vs_full_model", []))
        )
        if "single_step_max_abs_error" in figures:
            detail = f"one step {_fmt(figures['single_step_max_abs_error'])}; stepped: {detail}"
        label = name + (f" ({extra['onnx_ops']})" if extra and "onnx_ops" in extra else "")
        vs = ""
        if "max_abs_error_vs_trained_backend" in figures:
            vs = f", vs {trained_backend} {_fmt(figures['max_abs_error_vs_trained_backend'])}"
        log(f"  {label:<34} max |err| {_fmt(figures['max_abs_error'])}{vs}  [{detail}]"
            f"{'' if figures['passed'] else '  FAILED'}")

    artifacts = {}
    if "savedmodel" in formats:
        path = directory / SAVEDMODEL_DIR
        write_savedmodel(path, traced_twin, serve, metadata)
        run = _SavedModelRunner(path, [description["name"]], output_names)
        record("savedmodel", _case_figures(run, cases, references, originals))
        artifacts["savedmodel"] = SAVEDMODEL_DIR
    if "onnx" in formats:
        path = directory / ONNX_FILE
        proto, chosen, note = None, "tf2onnx", None
        if onnx_ops in ("auto", "native"):
            supported, reason = (supports_native if onnx_ops == "native" else prefers_native)(traced_twin)
            if supported and opset >= 14:
                try:
                    candidate = build_native_onnx(traced_twin, opset=opset, input_name=description["name"])
                    figures = _case_figures(
                        _OnnxRunner(candidate.SerializeToString(), [description["name"]], output_names), cases, references, originals)
                    if max(figures["max_abs_error"], figures.get("max_abs_error_vs_trained_backend", 0)) <= tolerance:
                        proto, chosen = candidate, "native"
                    else:
                        note = f"native operators missed parity ({_fmt(figures['max_abs_error'])}); kept tf2onnx"
                except NativeUnsupported as error:
                    note = f"native operators: {error}"
                except Exception as error:  # noqa: BLE001 - the tf2onnx form is still there
                    note = f"native operators failed ({type(error).__name__}: {_one_line(error)}); kept tf2onnx"
            else:
                note = f"native operators: {reason or f'opset {opset} < 14'}"
            if onnx_ops == "native" and proto is None:
                raise ExportError(f"onnx_ops='native' is not possible for {model.name}: {note}")
        if proto is None:
            proto = tf2onnx_proto(serve, signature, opset)
            _rename_onnx_io(proto, [description["name"]], output_names)
        _finish_onnx(proto, metadata)
        _save_onnx(proto, path)
        run = _OnnxRunner(str(path), [description["name"]], output_names)
        extra = {"onnx_ops": chosen, "recurrent_ops": recurrent_ops(proto), "opset": opset}
        if note:
            extra["note"] = note
        record("onnx", _case_figures(run, cases, references, originals), extra)
        artifacts["onnx"] = ONNX_FILE
    if step is not None:
        step_model, info = step
        step_metadata = {**metadata, "streaming": info, "input": {**metadata["input"], "streaming": True}}
        step_metadata["output"] = {"name": "y_t", "shape": info["outputs"][0]["shape"]}
        step_signature = _step_specs(info)
        step_fn = traced(_step_function(step_model, info), step_signature)
        in_names = [s["name"] for s in info["inputs"]]
        out_names = [s["name"] for s in info["outputs"]]
        rng = np.random.default_rng(int(job.get("seed", 0)) + 1)
        (directory / STREAMING_DIR).mkdir()
        if "savedmodel" in formats:
            path = directory / STREAMING_DIR / SAVEDMODEL_DIR
            write_savedmodel(path, step_model, step_fn, step_metadata)
            run = _SavedModelRunner(path, in_names, out_names)
            record("streaming/savedmodel", _streaming_figures(run, step_model, info, description, cases, references, rng))
            artifacts["streaming/savedmodel"] = f"{STREAMING_DIR}/{SAVEDMODEL_DIR}"
        if "onnx" in formats:
            path = directory / STREAMING_DIR / ONNX_FILE
            proto = tf2onnx_proto(step_fn, step_signature, opset)
            _rename_onnx_io(proto, in_names, out_names)
            _finish_onnx(proto, step_metadata)
            _save_onnx(proto, path)
            run = _OnnxRunner(str(path), in_names, out_names)
            record("streaming/onnx", _streaming_figures(run, step_model, info, description, cases, references, rng),
                   {"opset": opset})
            artifacts["streaming/onnx"] = f"{STREAMING_DIR}/{ONNX_FILE}"
        metadata["streaming"] = info
    metadata["artifacts"] = artifacts
    metadata["kerasrnn_version"] = kerasrnn.__version__
    _write_json(directory / METADATA_FILE, metadata)
    report["passed"] = all(a["passed"] for a in report["artifacts"].values())
    report["metadata"] = {k: metadata.get(k) for k in ("architecture", "task", "class_names", "model_name")}
    report["artifact_paths"] = artifacts
    return report


def _rename_onnx_io(proto, input_names, output_names):
    """Gives tf2onnx's graph inputs/outputs the signature's names where they differ.

    tf2onnx names inputs after the TensorSpecs and outputs after the keys of
    the returned dict already; this only strips suffixes such as ``:0``.
    """
    graph = proto.graph
    renames = {}
    for values, names in ((graph.input, input_names), (graph.output, output_names)):
        have = [value.name for value in values]
        for name in names:
            if name in have:
                continue
            matches = [h for h in have if h.split(":")[0] == name]
            if len(matches) == 1:
                renames[matches[0]] = name
    if not renames:
        return

    def rename_in(g):
        for node in g.node:
            node.input[:] = [renames.get(n, n) for n in node.input]
            node.output[:] = [renames.get(n, n) for n in node.output]
            for attribute in node.attribute:
                if attribute.HasField("g"):
                    rename_in(attribute.g)
                for sub in attribute.graphs:
                    rename_in(sub)

    rename_in(graph)
    for value in [*graph.input, *graph.output, *graph.value_info]:
        value.name = renames.get(value.name, value.name)


def _save_onnx(proto, path):
    import onnx

    onnx.save(proto, str(path))
