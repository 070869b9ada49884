"""The artifact writers: SavedModel, ONNX (tf2onnx's graph; the native form is
:mod:`kerasrnn.export.native_onnx`) and the traced functions both are made from.

TensorFlow side: every function here needs ``KERAS_BACKEND=tensorflow``
(:func:`tensorflow` checks it) and imports TensorFlow, tf2onnx and onnx only
when called.
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from kerasrnn.export.errors import ExportError
from kerasrnn.storage import atomic

SAVEDMODEL_DIR = "savedmodel"
ONNX_FILE = "model.onnx"
STREAMING_DIR = "streaming"
METADATA_FILE = "metadata.json"
PARITY_FILE = "parity.json"
METADATA_ASSET = "kerasrnn_metadata.json"
#: The recurrent operators :func:`recurrent_ops` reports.
RECURRENT_OPS = ("RNN", "GRU", "LSTM", "Loop", "Scan")


def tensorflow() -> Any:
    """The ``tensorflow`` module, if Keras runs on it; RuntimeError otherwise."""
    import keras

    if keras.backend.backend() != "tensorflow":
        raise RuntimeError(
            "kerasrnn.export.tf_export runs under KERAS_BACKEND=tensorflow; other backends export "
            "through kerasrnn.export.export_model, which starts a TensorFlow worker"
        )
    import tensorflow as tf

    return tf


# --------------------------------------------------------------------------- #
# Traced functions
# --------------------------------------------------------------------------- #


def model_spec(description: dict[str, Any]) -> Any:
    """The ``tf.TensorSpec`` of a sequence model's input: ``(None, None, *step_shape)``."""
    tf = tensorflow()
    return tf.TensorSpec(
        [None, None, *description["step_shape"]], tf.as_dtype(description["dtype"]), name=description["name"]
    )


def step_specs(info: dict[str, Any]) -> list[Any]:
    """The ``tf.TensorSpec``s of a streaming model's inputs (``x_t`` and the states)."""
    tf = tensorflow()
    return [
        tf.TensorSpec(spec["shape"], tf.as_dtype(spec.get("dtype", "float32")), name=spec["name"])
        for spec in info["inputs"]
    ]


def serve_function(model: Any) -> Callable[[Any], dict[str, Any]]:
    """``x -> {"outputs": model(x)}``, the function the full-sequence artifacts are traced from."""

    def serve(x):
        return {"outputs": model(x, training=False)}

    return serve


def step_function(step_model: Any, info: dict[str, Any]) -> Callable[..., dict[str, Any]]:
    """``(x_t, *states) -> {"y_t": ..., "next_state_0": ...}`` for a streaming model."""
    names = [spec["name"] for spec in info["outputs"]]

    def serve(*args):
        outputs = step_model(list(args), training=False)
        return dict(zip(names, outputs))

    return serve


def traced(fn: Callable[..., Any], signature: Sequence[Any]) -> Any:
    """``fn`` as a ``tf.function`` traced once for ``signature`` (shared by both writers)."""
    tf = tensorflow()
    function = tf.function(fn, input_signature=signature, autograph=False)
    function.get_concrete_function()
    return function


# --------------------------------------------------------------------------- #
# SavedModel
# --------------------------------------------------------------------------- #


def write_savedmodel(path: str | os.PathLike, model: Any, function: Any, metadata: dict[str, Any]) -> None:
    """A SavedModel with signatures ``serve`` (+ its ``serving_default`` alias) and ``metadata``.

    The same object layout as ``keras.export.ExportArchive`` writes (the
    model's variables tracked on an ``AutoTrackable``), saved directly.
    """
    tf = tensorflow()
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


# --------------------------------------------------------------------------- #
# ONNX
# --------------------------------------------------------------------------- #


def tf2onnx_proto(function: Any, signature: Sequence[Any], opset: int) -> Any:
    """tf2onnx's conversion of a traced function (what ``model.export(format="onnx")`` uses)."""
    try:
        import tf2onnx
    except ImportError:
        raise ExportError("ONNX export needs tf2onnx: pip install tf2onnx (or kerasrnn[onnx])") from None
    from kerasrnn.keras_private import patch_tf2onnx

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # np.object, touched by the patch
        patch_tf2onnx()  # numpy 2 compatibility, as keras' own exporter does
    logging.getLogger("tf2onnx").setLevel(logging.ERROR)
    proto, _ = tf2onnx.convert.from_function(function, input_signature=signature, opset=opset)
    return proto


def finish_onnx(proto: Any, metadata: dict[str, Any]) -> Any:
    """Sets the ONNX ``metadata_props`` (:func:`~kerasrnn.export.metadata.onnx_props`) and doc string."""
    from onnx import helper

    from kerasrnn.export.metadata import onnx_props

    del proto.metadata_props[:]
    helper.set_model_props(proto, onnx_props(metadata))
    proto.doc_string = f"kerasrnn export of {metadata.get('model_name')} ({metadata.get('architecture')})"
    return proto


def recurrent_ops(proto: Any) -> list[str]:
    """The recurrent operators of an ONNX graph (top level): e.g. ``["GRU"]`` or ``["Loop"]``."""
    return sorted({node.op_type for node in proto.graph.node if node.op_type in RECURRENT_OPS})


def rename_onnx_io(proto: Any, input_names: Sequence[str], output_names: Sequence[str]) -> None:
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
    _rename_in(graph, renames)
    for value in [*graph.input, *graph.output, *graph.value_info]:
        value.name = renames.get(value.name, value.name)


def _rename_in(graph: Any, renames: dict[str, str]) -> None:
    for node in graph.node:
        node.input[:] = [renames.get(n, n) for n in node.input]
        node.output[:] = [renames.get(n, n) for n in node.output]
        for attribute in node.attribute:
            if attribute.HasField("g"):
                _rename_in(attribute.g, renames)
            for sub in attribute.graphs:
                _rename_in(sub, renames)


def tf2onnx_model(
    function: Any, signature: Sequence[Any], opset: int, input_names: Sequence[str], output_names: Sequence[str]
) -> Any:
    """:func:`tf2onnx_proto` with the signature's input/output names (:func:`rename_onnx_io`)."""
    proto = tf2onnx_proto(function, signature, opset)
    rename_onnx_io(proto, input_names, output_names)
    return proto


def save_onnx(proto: Any, path: str | os.PathLike) -> Path:
    """Writes an ONNX model (atomically: a temporary ``.onnx`` beside it, then renamed)."""
    import onnx

    return atomic.write_with(path, lambda tmp: onnx.save(proto, str(tmp)))
