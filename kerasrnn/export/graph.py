"""What the exporters need to know about a Keras model (backend-agnostic, keras only).

* :func:`layer_chain`: the layers of a single-input, single-output model that
  is a plain chain (every model :func:`kerasrnn.build_model` makes is one);
* :func:`input_description`: the input's shape, dtype, time axis and what
  random test inputs must look like (token ids, padding);
* :func:`dynamic_time_twin`: the same model (same layer objects, so the same
  weights) behind an ``Input`` whose time axis is ``None``. A model trained on
  28-step MNIST rows has ``Input((28, 28))`` and refuses other lengths; its
  twin takes any length, which the exported artifacts must do too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kerasrnn.export.errors import ExportError


def _keras() -> Any:
    import keras

    return keras


def single_input_output(model: Any) -> tuple[Any, Any]:
    """``(input KerasTensor, output KerasTensor)``; ExportError otherwise."""
    inputs = getattr(model, "inputs", None)
    outputs = getattr(model, "outputs", None)
    if not inputs or not outputs:
        raise ExportError(
            f"model {model.name!r} has no symbolic inputs/outputs; export needs a functional or "
            f"Sequential model that has been built (e.g. one made by kerasrnn.build_model)"
        )
    if len(inputs) != 1 or len(outputs) != 1:
        raise ExportError(
            f"model {model.name!r} has {len(inputs)} inputs and {len(outputs)} outputs; "
            f"export supports one sequence input and one output"
        )
    return inputs[0], outputs[0]


def layer_chain(model: Any) -> list[Any] | None:
    """The model's layers (InputLayer excluded) if they form one chain, else None."""
    keras = _keras()
    if isinstance(model, keras.Sequential):
        return list(model.layers)
    input_tensor, output_tensor = single_input_output(model)
    # Walk back from the output through this model's own nodes (a layer
    # shared with another model, e.g. a dynamic-time twin, has more nodes).
    layers = []
    tensor = output_tensor
    while tensor is not input_tensor:
        history = getattr(tensor, "_keras_history", None)
        if history is None:
            return None
        operation, node_index = history[0], history[1]
        if isinstance(operation, keras.layers.InputLayer):
            return None
        node = operation._inbound_nodes[node_index]
        # One positional tensor; the only other tensor allowed is the
        # propagated mask (passed as the `mask` keyword).
        args = [t for t in keras.tree.flatten(node.arguments.args) if isinstance(t, keras.KerasTensor)]
        others = {k: v for k, v in node.arguments.kwargs.items() if k != "mask"}
        if keras.tree.flatten(others) and any(isinstance(t, keras.KerasTensor) for t in keras.tree.flatten(others)):
            return None
        if len(args) != 1 or len(node.output_tensors) != 1:
            return None
        layers.append(operation)
        tensor = args[0]
    layers.reverse()
    if len(set(map(id, layers))) != len(layers):
        return None
    return layers


def find_masking(layers: Sequence[Any]) -> Any:
    keras = _keras()
    for layer in layers or ():
        if isinstance(layer, keras.layers.Masking):
            return layer
    return None


def find_embedding(layers: Sequence[Any]) -> Any:
    keras = _keras()
    for layer in layers or ():
        if isinstance(layer, keras.layers.Embedding):
            return layer
    return None


def input_description(model: Any) -> dict[str, Any]:
    """A JSON-able description of the model input, used for test data and metadata.

    Returns a dict with ``name``, ``shape`` (the model's, batch as None),
    ``dtype``, ``time_axis`` (1), ``step_shape`` (one time step's shape, no
    batch), ``kind`` (``"tokens"`` with ``vocabulary``, or ``"values"``) and
    ``pad_value`` (the Masking value, when the model masks padded steps).
    """
    keras = _keras()
    input_tensor, _ = single_input_output(model)
    shape = tuple(input_tensor.shape)
    if len(shape) < 2:
        raise ExportError(
            f"model {model.name!r} takes inputs of shape {shape}; export needs sequences (batch, time, ...)"
        )
    if any(dim is None for dim in shape[2:]):
        raise ExportError(f"model {model.name!r}: every input dimension after (batch, time) must be known; got {shape}")
    layers = layer_chain(model)
    masking = find_masking(layers)
    embedding = find_embedding(layers)
    description = {
        "name": _signature_name(getattr(input_tensor, "name", None)),
        "shape": [None, shape[1], *[int(d) for d in shape[2:]]],
        "dtype": str(keras.backend.standardize_dtype(input_tensor.dtype)),
        "time_axis": 1,
        "trained_length": shape[1],
        "step_shape": [int(d) for d in shape[2:]],
        "kind": "values",
    }
    if embedding is not None and len(shape) == 2:
        description["kind"] = "tokens"
        description["vocabulary"] = int(embedding.input_dim)
    if masking is not None:
        description["pad_value"] = float(masking.mask_value)
    return description


def _signature_name(name: str) -> str:
    """The input's name if it can name a signature argument, else ``sequences``."""
    import re

    if name and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,63}", name):
        return name
    return "sequences"


def _flat_time_distributed_class() -> type:
    import keras
    from keras import ops

    class FlatTimeDistributed(keras.layers.Layer):
        """``TimeDistributed(inner)`` as one call of ``inner`` on ``(batch * time, ...)``.

        Keras 3.15's ``TimeDistributed`` maps over ``arange(batch)`` instead
        of ``arange(time)`` when the time axis is unknown in a traced graph
        (its "Implementation #2"), so a model traced with a free time axis
        returns ``(batch, batch, ...)``. This replacement shares the inner
        layer (and its weights) and is used only in the exported graph.
        """

        def __init__(self, inner, **kwargs):
            super().__init__(**kwargs)
            self.inner = inner
            self.supports_masking = True

        def call(self, inputs, mask=None):
            # Only replaces a TimeDistributed that got no mask (see below).
            shape = ops.shape(inputs)
            frames = ops.reshape(inputs, (-1, *inputs.shape[2:]))
            outputs = self.inner(frames)
            return ops.reshape(outputs, (shape[0], shape[1], *outputs.shape[1:]))

        def compute_output_shape(self, input_shape):
            inner = self.inner.compute_output_shape((None, *input_shape[2:]))
            return (input_shape[0], input_shape[1], *inner[1:])

    return FlatTimeDistributed


def dynamic_time_twin(model: Any, for_tracing: bool = False) -> Any:
    """The same layers behind an input with a free time axis (or ``model`` itself).

    With ``for_tracing``, ``TimeDistributed`` layers that get no mask are
    replaced by an equivalent that Keras traces correctly with a free time
    axis (see ``FlatTimeDistributed``); the eager model (the parity
    reference) keeps Keras' own layer.
    """
    keras = _keras()
    input_tensor, _ = single_input_output(model)
    replace = {}
    if for_tracing:
        flat = None
        for layer in model.layers:
            if not isinstance(layer, keras.layers.TimeDistributed):
                continue
            masked = any(node.arguments.kwargs.get("mask") is not None for node in layer._inbound_nodes)
            if not masked:
                flat = flat or _flat_time_distributed_class()
                replace[id(layer)] = flat(layer.layer, name=f"{layer.name}_flat", dtype=layer.dtype_policy)
    if input_tensor.shape[1] is None and not replace:
        return model
    new_input = keras.Input(
        shape=(None, *input_tensor.shape[2:]),
        dtype=input_tensor.dtype,
        name=getattr(input_tensor, "name", None) or "sequences",
    )
    try:
        return keras.models.clone_model(
            model, input_tensors=new_input, clone_function=lambda layer: replace.get(id(layer), layer)
        )
    except Exception as error:  # noqa: BLE001 - report what keras said
        raise ExportError(
            f"cannot rebuild model {model.name!r} with a free time axis ({type(error).__name__}: "
            f"{error}); export needs layers that accept any sequence length"
        ) from None
