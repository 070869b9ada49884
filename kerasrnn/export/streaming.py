"""The single-step ("streaming") form of a unidirectional recurrent model.

A sequence model deployed on a stream (a sensor, an ECG, audio) sees one time
step at a time. :func:`build_streaming_model` turns a trained model into a
Keras model that takes ``[x_t, state_0, ..., state_{n-1}]`` and returns
``[y_t, next_state_0, ..., next_state_{n-1}]``, sharing the trained model's
layers (and so its weights):

* every recurrent layer is replaced by one call of its cell; the states are
  listed layer by layer, each cell's in the cell's order (``[h, c]`` for the
  LSTM kinds and ConvLSTM, ``[h]`` for the others), which is also
  :class:`~kerasrnn.layers.Recurrent`'s ``return_state`` order;
* the states start at zero (:func:`initial_states`);
* per-step layers (``Embedding``, ``Masking``, ``Reshape`` of the time axis,
  ``FeaturesAsFrames``, ``FlattenFrames``, ``Dense``, poolings inside
  ``TimeDistributed`` ...) are applied to the step;
* a ``Masking`` layer is honoured: at a padded step (every feature equal to
  the mask value) the states are carried over unchanged and ``y_t`` is
  computed from the previous output, exactly what Keras' RNN does at a masked
  step;
* ``y_t`` is the head applied to this step's output: for a many-to-one model
  (classification, forecasting) it is the prediction for the sequence seen so
  far, and after the last step it equals the full model's output; for a
  per-step model (labelling, language model) it is the output at step ``t``.

Only unidirectional recurrent models have a streaming form: a backward
direction needs the end of the sequence first, and a TCN
(:class:`~kerasrnn.layers.TCN`) has no recurrent state to carry.

Backend-agnostic (keras only).
"""

from __future__ import annotations

from typing import Any

from kerasrnn.export.errors import ExportError
from kerasrnn.export.graph import layer_chain, single_input_output


def _state_shapes(cell):
    """Per-sample shapes of a cell's states."""
    from kerasrnn.layers import ConvLSTMCell

    if isinstance(cell, ConvLSTMCell):
        shape = tuple(cell.state_shape(1)[1:])
        return [shape, shape]
    sizes = cell.state_size if isinstance(cell.state_size, (list, tuple)) else [cell.state_size]
    shapes = []
    for size in sizes:
        if not isinstance(size, int):
            raise ExportError(f"streaming export: cell {cell.name!r} has a state of size {size!r}")
        shapes.append((size,))
    return shapes


def _plan(model):
    """The model as a list of per-step operations, plus the state descriptions."""
    import keras

    from kerasrnn.layers import TCN, Recurrent
    from kerasrnn.layers.frames import FeaturesAsFrames, FlattenFrames

    input_tensor, _ = single_input_output(model)
    layers = layer_chain(model)
    if layers is None:
        raise ExportError(f"streaming export needs a model that is one chain of layers; {model.name!r} is not")
    step_shape = tuple(int(d) for d in input_tensor.shape[2:])
    per_step = (
        keras.layers.Dense,
        keras.layers.Activation,
        keras.layers.Softmax,
        keras.layers.LayerNormalization,
        keras.layers.BatchNormalization,
        keras.layers.GlobalAveragePooling1D,
        keras.layers.GlobalAveragePooling2D,
        keras.layers.GlobalMaxPooling1D,
        keras.layers.GlobalMaxPooling2D,
    )
    identity = (
        keras.layers.Dropout,
        keras.layers.GaussianNoise,
        keras.layers.GaussianDropout,
        keras.layers.SpatialDropout1D,
        keras.layers.ActivityRegularization,
        keras.layers.InputLayer,
    )
    plan, states = [], []

    def add_rnn(rnn, where):
        if isinstance(rnn, keras.layers.Bidirectional):
            raise ExportError(
                f"streaming export needs a unidirectional model; {where} is bidirectional "
                f"(its backward direction needs the end of the sequence first)"
            )
        if not isinstance(rnn, keras.layers.RNN):
            raise ExportError(f"streaming export: {where} is not a recurrent layer")
        if rnn.go_backwards:
            raise ExportError(f"streaming export: {where} runs backwards (go_backwards=True)")
        if rnn.return_state:
            raise ExportError(f"streaming export: {where} returns its states")
        shapes = _state_shapes(rnn.cell)
        for shape in shapes:
            states.append(
                {
                    "name": f"state_{len(states)}",
                    "shape": [None, *shape],
                    "layer": rnn.name,
                    "cell": type(rnn.cell).__name__,
                }
            )
        plan.append(("rnn", rnn.cell, len(shapes)))

    recurrent_seen = False
    for layer in layers:
        where = f"layer {layer.name!r} ({type(layer).__name__})"
        if isinstance(layer, identity):
            continue
        if isinstance(layer, keras.layers.Masking):
            if len(step_shape) != 1:
                raise ExportError(f"streaming export: {where} on frames is not supported")
            plan.append(("mask", float(layer.mask_value)))
        elif isinstance(layer, keras.layers.Embedding):
            plan.append(("embed", layer))
        elif isinstance(layer, keras.layers.Reshape):
            target = tuple(layer.target_shape)
            if recurrent_seen or not target or target[0] not in (-1, None) or -1 in target[1:]:
                raise ExportError(f"streaming export: {where} does not keep the time axis first")
            plan.append(("reshape", tuple(int(d) for d in target[1:])))
            plan.append(("unmask",))  # Reshape does not support masking: Keras drops the mask here
        elif isinstance(layer, FeaturesAsFrames):  # a step's features -> a one-channel frame
            plan.append(("reshape", tuple(int(d) for d in layer.output.shape[2:])))
        elif isinstance(layer, FlattenFrames):  # a step's frame -> one vector
            plan.append(("reshape", (int(layer.output.shape[-1]),)))
        elif isinstance(layer, Recurrent):
            if layer.bidirectional:
                raise ExportError(
                    f"streaming export needs a unidirectional model; {where} is bidirectional "
                    f"(its backward direction needs the end of the sequence first)"
                )
            if layer.return_state:
                raise ExportError(f"streaming export: {where} returns its states")
            if getattr(layer, "residual", False) and len(layer.rnn_layers) > 1:
                raise ExportError(
                    f"streaming export: {where} has residual connections between its layers, which the "
                    f"step model does not reproduce; export it without streaming"
                )
            for rnn in layer.rnn_layers:
                add_rnn(rnn, f"{where}.{rnn.name}")
            recurrent_seen = True
            if not layer.return_sequences:
                plan.append(("unmask",))
        elif isinstance(layer, (keras.layers.RNN, keras.layers.Bidirectional)):
            add_rnn(layer, where)
            recurrent_seen = True
            if not layer.return_sequences:
                plan.append(("unmask",))
        elif isinstance(layer, TCN):
            raise ExportError(
                f"streaming export: {where} is a temporal convolutional network, which has no single-step "
                f"form here (each step needs the last {layer.receptive_field} inputs); export it without streaming"
            )
        elif isinstance(layer, keras.layers.TimeDistributed):
            plan.append(("apply", layer.layer))
        elif isinstance(layer, per_step):
            plan.append(("apply", layer))
        else:
            raise ExportError(f"streaming export: {where} has no per-step form")
    if not states:
        raise ExportError(f"streaming export: model {model.name!r} has no recurrent layer")
    return step_shape, plan, states


_STREAMING_CLASS = None


def _streaming_class():
    global _STREAMING_CLASS
    if _STREAMING_CLASS is not None:
        return _STREAMING_CLASS
    import keras
    from keras import ops

    class StreamingModel(keras.Model):
        """``[x_t, *states] -> [y_t, *next_states]`` over a trained model's layers."""

        def __init__(self, plan, num_states, **kwargs):
            super().__init__(**kwargs)
            self.plan = plan
            self.num_states = num_states
            # Track the shared layers so that their variables belong to this model.
            self.step_layers = [item[1] for item in plan if item[0] in ("rnn", "embed", "apply")]

        def call(self, inputs, training=False):
            x, states = inputs[0], list(inputs[1:])
            if len(states) != self.num_states:
                raise ValueError(f"expected {self.num_states} states, received {len(states)}")
            mask = None
            next_states = []
            for item in self.plan:
                kind = item[0]
                if kind == "mask":
                    mask = ops.any(ops.not_equal(x, item[1]), axis=-1)
                    x = x * ops.cast(ops.expand_dims(mask, -1), x.dtype)
                elif kind == "embed":
                    layer = item[1]
                    ids = x
                    x = layer(ids)
                    mask = ops.not_equal(ops.cast(ids, "int32"), 0) if layer.mask_zero else None
                elif kind == "reshape":
                    x = ops.reshape(x, (-1, *item[1]))
                elif kind == "unmask":
                    mask = None
                elif kind == "rnn":
                    cell, count = item[1], item[2]
                    old = states[len(next_states) : len(next_states) + count]
                    output, new = cell(x, old, training=False)
                    new = list(new) if isinstance(new, (list, tuple)) else [new]
                    if mask is not None:
                        new = [
                            ops.where(ops.reshape(mask, (-1,) + (1,) * (len(ops.shape(o)) - 1)), n, o)
                            for n, o in zip(new, old)
                        ]
                        # Keras' RNN repeats the previous output at a masked
                        # step; every cell here outputs its first state.
                        output = new[0]
                    next_states.extend(new)
                    x = output
                elif kind == "apply":
                    x = item[1](x)
            return [x, *next_states]

    _STREAMING_CLASS = StreamingModel
    return StreamingModel


def build_streaming_model(model: Any, name: str | None = None) -> tuple[Any, dict[str, Any]]:
    """The single-step Keras model of ``model`` (a unidirectional recurrent model).

    Returns:
        ``(step_model, info)``: ``step_model([x_t, *states]) -> [y_t,
        *next_states]`` (a ``keras.Model`` sharing ``model``'s layers and
        weights); ``info`` is a JSON-able description (input and state names
        and shapes, ``"initial_state": "zeros"``).

    Raises:
        ExportError: for a bidirectional model, a backward layer, or a layer
            that has no per-step form.

    Example::

        step, info = build_streaming_model(model)
        states = initial_states(info, batch_size=1)
        for x_t in stream:                       # x_t: (1, *step_shape)
            y_t, *states = step([x_t, *states])
    """
    import keras
    import numpy as np

    input_tensor, _ = single_input_output(model)
    step_shape, plan, states = _plan(model)
    dtype = str(keras.backend.standardize_dtype(input_tensor.dtype))
    step_model = _streaming_class()(plan, len(states), name=name or f"{model.name}_step")
    # One call builds it (every shared layer is built already).
    zeros = [np.zeros((1, *step_shape), dtype)] + [np.zeros((1, *s["shape"][1:]), "float32") for s in states]
    y = step_model(zeros)[0]
    info = {
        "inputs": [{"name": "x_t", "shape": [None, *step_shape], "dtype": dtype}, *states],
        "outputs": [{"name": "y_t", "shape": [None, *[int(d) for d in y.shape[1:]]]}]
        + [{"name": f"next_{s['name']}", "shape": s["shape"]} for s in states],
        "initial_state": "zeros",
        "state_order": "layer by layer; within a cell its states in the cell's order ([h, c] for LSTM kinds)",
    }
    return step_model, info


def initial_states(info: dict[str, Any], batch_size: int) -> list[Any]:
    """Zero states (numpy float32) for a streaming model described by ``info``."""
    import numpy as np

    return [np.zeros((batch_size, *s["shape"][1:]), np.float32) for s in info["inputs"][1:]]
