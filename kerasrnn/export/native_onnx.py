"""ONNX graphs built on ONNX's own recurrent operators (``RNN``, ``GRU``, ``LSTM``).

tf2onnx turns Keras' ``LSTM`` into the ONNX ``LSTM`` operator but every other
recurrence (SimpleRNN, both GRU forms, the peephole LSTM) into a generic
``Loop``. Where the math is exactly an ONNX operator this module writes the
whole model directly from the weights instead:

========================  =========================================================
Keras                     ONNX
========================  =========================================================
``SimpleRNN``             ``RNN`` (``Tanh`` or ``Relu``)
``GRU(reset_after=F)``    ``GRU``, ``linear_before_reset=0`` (Cho et al. form)
``GRU(reset_after=T)``    ``GRU``, ``linear_before_reset=1`` (cuDNN form)
``LSTM``                  ``LSTM`` (gates reordered i,f,c,o -> i,o,f,c)
``PeepholeLSTM``          ``LSTM`` with the peephole input ``P`` = [p_i, p_o, p_f]
``Bidirectional``         ``direction="bidirectional"``, merged as Keras merges
stacks (``Recurrent``)    one operator per layer
``Embedding``, ``Dense``  ``Gather``; ``MatMul`` + ``Add`` + activation
========================  =========================================================

``onnx_ops="auto"`` ships this form for LSTM, peephole LSTM and GRU models
(faster than tf2onnx's Loop, see :func:`prefers_native`); SimpleRNN models
get it with ``onnx_ops="native"``.

Only chains of those layers (plus inference-time no-ops such as ``Dropout``)
are supported, and only without masking: ONNX's ``sequence_lens`` describes
right padding, not Keras' per-step mask, so masked models keep the exact
``Loop`` form. :func:`build_native_onnx` raises :class:`NativeUnsupported`
for anything else; the caller then keeps tf2onnx's graph. Every graph built
here goes through the same parity check as any other artifact.

Uses numpy and onnx only (no TensorFlow).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from kerasrnn.export.graph import input_description, layer_chain


class NativeUnsupported(Exception):
    """The model has a layer or option this builder does not write natively."""


_ACTIVATIONS = {"tanh": "Tanh", "sigmoid": "Sigmoid", "relu": "Relu"}
_DENSE_ACTIVATIONS = {"linear": None, "softmax": "Softmax", "tanh": "Tanh", "sigmoid": "Sigmoid", "relu": "Relu"}
MIN_OPSET = 14


def _onnx_activation(function, where):
    name = getattr(function, "__name__", str(function))
    if name not in _ACTIVATIONS:
        raise NativeUnsupported(f"{where}: activation {name!r} has no ONNX RNN equivalent here")
    return _ACTIVATIONS[name]


def _numpy(variable):
    import keras

    return np.asarray(keras.ops.convert_to_numpy(variable), dtype=np.float32)


def _split_gates(matrix, count):
    return np.split(matrix, count, axis=-1)


class _Graph:
    def __init__(self):
        from onnx import helper

        self.helper = helper
        self.nodes = []
        self.initializers = []
        self.counter = 0

    def name(self, hint):
        self.counter += 1
        return f"{hint}_{self.counter}"

    def const(self, value, hint, dtype=np.float32):
        from onnx import numpy_helper

        name = self.name(hint)
        self.initializers.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def node(self, op, inputs, hint, outputs=1, **attributes):
        names = [self.name(f"{hint}_out") for _ in range(outputs)]
        self.nodes.append(self.helper.make_node(op, inputs, names, name=self.name(hint), **attributes))
        return names[0] if outputs == 1 else names


class _Builder:
    """Walks the layer chain keeping the current tensor and its layout."""

    def __init__(self, graph, tensor, layout):
        self.g = graph
        self.tensor = tensor
        self.layout = layout  # "btf", "tbf" (sequences) or "bf" (one vector per sample)

    def time_major(self):
        if self.layout == "btf":
            self.tensor = self.g.node("Transpose", [self.tensor], "to_time_major", perm=[1, 0, 2])
            self.layout = "tbf"
        return self.tensor

    def batch_major(self):
        if self.layout == "tbf":
            self.tensor = self.g.node("Transpose", [self.tensor], "to_batch_major", perm=[1, 0, 2])
            self.layout = "btf"
        return self.tensor

    # -- layers ---------------------------------------------------------

    def embedding(self, layer):
        if self.layout != "bt":
            raise NativeUnsupported("Embedding must read the token ids directly")
        table = self.g.const(_numpy(layer.embeddings), "embeddings")
        ids = self.g.node("Cast", [self.tensor], "token_ids", to=7)  # int64
        self.tensor = self.g.node("Gather", [table, ids], "embed", axis=0)
        self.layout = "btf"

    def dense(self, layer):
        if self.layout == "tbf":
            self.batch_major()
        activation = getattr(layer.activation, "__name__", str(layer.activation))
        if activation not in _DENSE_ACTIVATIONS:
            raise NativeUnsupported(f"Dense activation {activation!r}")
        y = self.g.node("MatMul", [self.tensor, self.g.const(_numpy(layer.kernel), "dense_kernel")], "dense")
        if layer.use_bias:
            y = self.g.node("Add", [y, self.g.const(_numpy(layer.bias), "dense_bias")], "dense_bias")
        op = _DENSE_ACTIVATIONS[activation]
        if op == "Softmax":
            y = self.g.node("Softmax", [y], "softmax", axis=-1)
        elif op is not None:
            y = self.g.node(op, [y], activation)
        self.tensor = y

    def recurrent(self, layer):
        """A kerasrnn Recurrent stack, a Bidirectional wrapper or a plain RNN layer."""
        import keras

        from kerasrnn.layers import Recurrent

        if isinstance(layer, Recurrent):
            if layer.return_state or layer.stateful:
                raise NativeUnsupported("Recurrent with return_state/stateful")
            for rnn in layer.rnn_layers:
                self.recurrent(rnn)
            return
        if isinstance(layer, keras.layers.Bidirectional):
            forward, backward = layer.forward_layer, layer.backward_layer
            if forward.go_backwards or not backward.go_backwards:
                raise NativeUnsupported("Bidirectional with unusual directions")
            self._rnn([forward, backward], layer.merge_mode, forward.return_sequences)
            return
        if layer.go_backwards:
            raise NativeUnsupported(f"{layer.name}: a standalone go_backwards layer")
        self._rnn([layer], None, layer.return_sequences)

    def _rnn(self, layers, merge_mode, return_sequences):
        import keras

        from kerasrnn.layers import PeepholeLSTMCell

        for layer in layers:
            if layer.stateful or layer.return_state:
                raise NativeUnsupported(f"{layer.name}: stateful/return_state")
        cells = [layer.cell for layer in layers]
        kinds = {type(cell) for cell in cells}
        if len(kinds) != 1:
            raise NativeUnsupported("different cells in the two directions")
        kind = kinds.pop()
        units = cells[0].units
        direction = "bidirectional" if len(cells) == 2 else "forward"
        x = self.time_major()
        if self.layout != "tbf":
            raise NativeUnsupported("a recurrent layer after a many-to-one layer")
        W, R, B, P = [], [], [], []
        activations = []
        if kind is keras.layers.SimpleRNNCell:
            op, extra = "RNN", {}
            for cell in cells:
                W.append(_numpy(cell.kernel).T)
                R.append(_numpy(cell.recurrent_kernel).T)
                b = _numpy(cell.bias) if cell.use_bias else np.zeros(units, np.float32)
                B.append(np.concatenate([b, np.zeros_like(b)]))
                activations += [_onnx_activation(cell.activation, cell.name)]
        elif kind is keras.layers.GRUCell:
            op, extra = "GRU", {"linear_before_reset": int(bool(cells[0].reset_after))}
            if len({bool(c.reset_after) for c in cells}) != 1:
                raise NativeUnsupported("GRU directions with different reset_after")
            for cell in cells:
                W.append(_numpy(cell.kernel).T)  # gates z, r, h in both
                R.append(_numpy(cell.recurrent_kernel).T)
                if not cell.use_bias:
                    b = np.zeros(6 * units, np.float32)
                elif cell.reset_after:
                    bias = _numpy(cell.bias)  # (2, 3U): input bias, recurrent bias
                    b = np.concatenate([bias[0], bias[1]])
                else:
                    bias = _numpy(cell.bias)
                    b = np.concatenate([bias, np.zeros_like(bias)])
                B.append(b)
                activations += [
                    _onnx_activation(cell.recurrent_activation, cell.name),
                    _onnx_activation(cell.activation, cell.name),
                ]
        elif kind in (keras.layers.LSTMCell, PeepholeLSTMCell):
            op, extra = "LSTM", {}

            def iofc(matrix):
                i, f, c, o = _split_gates(matrix, 4)
                return np.concatenate([i, o, f, c], axis=-1)

            for cell in cells:
                W.append(iofc(_numpy(cell.kernel)).T)
                R.append(iofc(_numpy(cell.recurrent_kernel)).T)
                b = iofc(_numpy(cell.bias)) if cell.use_bias else np.zeros(4 * units, np.float32)
                B.append(np.concatenate([b, np.zeros_like(b)]))
                if kind is PeepholeLSTMCell:
                    P.append(
                        np.concatenate(
                            [
                                _numpy(cell.input_gate_peephole),
                                _numpy(cell.output_gate_peephole),
                                _numpy(cell.forget_gate_peephole),
                            ]
                        )
                    )
                activations += [
                    _onnx_activation(cell.recurrent_activation, cell.name),
                    _onnx_activation(cell.activation, cell.name),
                    _onnx_activation(cell.activation, cell.name),
                ]
        else:
            raise NativeUnsupported(f"cell {kind.__name__} has no ONNX operator")
        g = self.g
        inputs = [x, g.const(np.stack(W), f"{op}_W"), g.const(np.stack(R), f"{op}_R"), g.const(np.stack(B), f"{op}_B")]
        if P:
            inputs += ["", "", "", g.const(np.stack(P), f"{op}_P")]
        y, y_h = g.node(
            op,
            inputs,
            op.lower(),
            outputs=2,
            hidden_size=int(units),
            direction=direction,
            activations=activations,
            **extra,
        )[:2]
        directions = len(cells)
        if return_sequences:
            # Y: (time, directions, batch, units)
            self.tensor = self._merge(
                y, directions, merge_mode, axis=1, concat_perm=[0, 2, 1, 3], concat_shape=[0, 0, -1]
            )
            self.layout = "tbf"
        else:
            # Y_h: (directions, batch, units) -- the last step (backward: first step)
            self.tensor = self._merge(y_h, directions, merge_mode, axis=0, concat_perm=[1, 0, 2], concat_shape=[0, -1])
            self.layout = "bf"

    def _merge(self, y, directions, merge_mode, axis, concat_perm, concat_shape):
        g = self.g
        if directions == 1:
            return g.node("Squeeze", [y, g.const([axis], "axes", np.int64)], "squeeze")
        if merge_mode == "concat":
            t = g.node("Transpose", [y], "directions_last", perm=concat_perm)
            return g.node("Reshape", [t, g.const(concat_shape, "shape", np.int64)], "concat_directions")
        parts = [
            g.node("Gather", [y, g.const(index, "direction", np.int64)], "direction", axis=axis) for index in (0, 1)
        ]
        if merge_mode == "sum":
            return g.node("Add", parts, "merge_sum")
        if merge_mode == "mul":
            return g.node("Mul", parts, "merge_mul")
        if merge_mode == "ave":
            total = g.node("Add", parts, "merge_sum")
            return g.node("Mul", [total, g.const(0.5, "half")], "merge_ave")
        raise NativeUnsupported(f"merge mode {merge_mode!r}")


def prefers_native(model: Any) -> tuple[bool, str]:
    """``(True, "")`` or ``(False, reason)``: does ``onnx_ops="auto"`` ship the native form?

    Measured with onnxruntime on 2 CPU cores (benchmarks/export_latency.py,
    28 steps x 28 features, 128 units): the native LSTM (also with
    peepholes) and GRU operators are faster than tf2onnx's Loop at batch 1
    (3-7x) and as fast or faster at batch 256 single-threaded; ONNX's ``RNN``
    operator is faster at batch 1 but 2-4x slower than the Loop from batch 16
    up, so SimpleRNN models keep the Loop unless ``onnx_ops="native"``.
    """
    import keras

    supported, reason = supports_native(model)
    if not supported:
        return False, reason
    layers = layer_chain(model)
    if any(isinstance(cell, keras.layers.SimpleRNNCell) for layer in layers for cell in _cells(layer)):
        return False, "SimpleRNN: ONNX's RNN operator is slower than the Loop from batch 16 up"
    return True, ""


def supports_native(model: Any) -> tuple[bool, str]:
    """``(True, "")`` or ``(False, reason)``: can :func:`build_native_onnx` write this model?"""
    try:
        _plan(model)
    except NativeUnsupported as error:
        return False, str(error)
    return True, ""


def _plan(model):
    import keras

    from kerasrnn.layers import Recurrent

    layers = layer_chain(model)
    if layers is None:
        raise NativeUnsupported("the model is not a single chain of layers")
    if not any(isinstance(layer, (Recurrent, keras.layers.RNN, keras.layers.Bidirectional)) for layer in layers):
        raise NativeUnsupported("no recurrent layer")
    for layer in layers:
        if isinstance(layer, keras.layers.Masking):
            raise NativeUnsupported(
                "masked model: ONNX's sequence_lens is not Keras' per-step mask; the Loop form keeps it exact"
            )
        if isinstance(layer, keras.layers.Embedding) and layer.mask_zero:
            raise NativeUnsupported("Embedding(mask_zero=True)")
        allowed = (
            Recurrent,
            keras.layers.RNN,
            keras.layers.Bidirectional,
            keras.layers.Dense,
            keras.layers.Embedding,
            keras.layers.Dropout,
            keras.layers.InputLayer,
        )
        if not isinstance(layer, allowed):
            raise NativeUnsupported(f"layer {layer.name!r} ({type(layer).__name__})")
        if isinstance(layer, Recurrent) and getattr(layer, "residual", False) and len(layer.rnn_layers) > 1:
            raise NativeUnsupported(f"layer {layer.name!r}: residual connections between layers")
        for cell in _cells(layer):
            if type(cell) not in _native_cells():
                raise NativeUnsupported(f"cell {type(cell).__name__} has no ONNX operator")
            if getattr(cell, "proj_size", 0):
                raise NativeUnsupported(f"cell {type(cell).__name__} with a projection (proj_size)")
    return layers


def _native_cells():
    import keras

    from kerasrnn.layers import PeepholeLSTMCell

    return (keras.layers.SimpleRNNCell, keras.layers.GRUCell, keras.layers.LSTMCell, PeepholeLSTMCell)


def _cells(layer):
    import keras

    from kerasrnn.layers import Recurrent

    if isinstance(layer, Recurrent):
        return [cell for rnn in layer.rnn_layers for cell in _cells(rnn)]
    if isinstance(layer, keras.layers.Bidirectional):
        return _cells(layer.forward_layer) + _cells(layer.backward_layer)
    if isinstance(layer, keras.layers.RNN):
        return [layer.cell]
    return []


def build_native_onnx(model: Any, opset: int = 17, input_name: str | None = None, output_name: str = "outputs") -> Any:
    """An ``onnx.ModelProto`` of ``model`` on native recurrent operators.

    Dynamic ``batch`` and ``time`` axes. Raises :class:`NativeUnsupported`
    when the model has anything this builder does not write (the caller keeps
    the Loop form then).
    """
    import keras
    import onnx
    from onnx import TensorProto, helper

    if opset < MIN_OPSET:
        raise NativeUnsupported(f"native recurrent operators are written for opset >= {MIN_OPSET}")
    layers = _plan(model)
    description = input_description(model)
    input_name = input_name or description["name"]
    graph = _Graph()
    step_shape = description["step_shape"]
    if description["kind"] == "tokens":
        builder = _Builder(graph, input_name, "bt")
    elif len(step_shape) == 1:
        builder = _Builder(graph, input_name, "btf")
    else:
        raise NativeUnsupported(f"step shape {step_shape}")
    from kerasrnn.layers import Recurrent

    for layer in layers:
        if isinstance(layer, (keras.layers.Dropout, keras.layers.InputLayer)):
            continue
        if isinstance(layer, keras.layers.Embedding):
            builder.embedding(layer)
        elif isinstance(layer, keras.layers.Dense):
            builder.dense(layer)
        elif isinstance(layer, (Recurrent, keras.layers.RNN, keras.layers.Bidirectional)):
            builder.recurrent(layer)
        else:  # pragma: no cover - _plan rejects it
            raise NativeUnsupported(f"layer {layer.name!r}")
    if builder.layout == "tbf":
        builder.batch_major()
    graph.nodes.append(helper.make_node("Identity", [builder.tensor], [output_name], name="outputs"))

    dtype = TensorProto.FLOAT
    if description["dtype"] != "float32":
        dtype = helper.np_dtype_to_tensor_dtype(np.dtype(description["dtype"]))
    input_shape = ["batch", "time", *step_shape]
    out_rank = len(model.outputs[0].shape)
    output_shape = (
        ["batch", "time", *model.outputs[0].shape[2:]] if out_rank == 3 else ["batch", *model.outputs[0].shape[1:]]
    )
    onnx_graph = helper.make_graph(
        graph.nodes,
        f"{model.name}_native",
        [helper.make_tensor_value_info(input_name, dtype, input_shape)],
        [
            helper.make_tensor_value_info(
                output_name, TensorProto.FLOAT, [d if d is not None else "batch" for d in output_shape]
            )
        ],
        initializer=graph.initializers,
    )
    proto = helper.make_model(
        onnx_graph,
        opset_imports=[helper.make_opsetid("", int(opset))],
        producer_name="kerasrnn.export.native_onnx",
    )
    # The oldest IR version that carries this opset: loads in older runtimes too.
    proto.ir_version = helper.find_min_ir_version_for(list(proto.opset_import))
    onnx.checker.check_model(proto)
    return proto
