"""An attention wrapper around any recurrent cell (tfa's AttentionWrapper, Luong's input feeding)."""

from __future__ import annotations

import keras
from keras import ops

from kerasrnn.keras_private import DropoutRNNCell
from kerasrnn.layers.tensor_types import Shape, Tensor

# The states after the inner cell's, in this order (see AttentionCell).
EXTRA_STATES = ("attention", "alignment", "memory", "keys", "memory_mask")


def _flat_sizes(state_size) -> list[int]:
    if isinstance(state_size, int):
        return [state_size]
    return [size for entry in state_size for size in _flat_sizes(entry)]


def _pack(state_size, flat: list) -> list:
    """The inner cell's state structure from a flat list (a cell's states, or StackedRNNCells' nested ones)."""
    if isinstance(state_size, int):
        return [flat[0]]
    packed, start = [], 0
    for entry in state_size:
        count = len(_flat_sizes(entry))
        packed.append(flat[start] if isinstance(entry, int) else list(flat[start : start + count]))
        start += count
    return packed


def _flatten(tensor: Tensor) -> Tensor:
    """``(B, S, D)`` -> ``(B, S*D)``, whether S is static, unknown in a traced function, or symbolic."""
    if all(isinstance(d, int) for d in tensor.shape[1:]):
        return ops.reshape(tensor, (-1, tensor.shape[1] * tensor.shape[2]))
    if isinstance(tensor, keras.KerasTensor):  # a functional graph: a layer reads the batch size when it runs
        return keras.layers.Flatten()(tensor)
    return ops.reshape(tensor, (ops.shape(tensor)[0], -1))


def _output_size(cell) -> int:
    size = getattr(cell, "output_size", None)
    if isinstance(size, int):
        return size
    return _flat_sizes(cell.state_size)[0]


@keras.saving.register_keras_serializable(package="kerasrnn")
class AttentionCell(DropoutRNNCell, keras.layers.Layer):
    r"""Attention around a recurrent cell, for ``keras.layers.RNN``: the decoder of an encoder-decoder.

    tensorflow-addons' ``AttentionWrapper`` order (Luong, Pham & Manning,
    "Effective Approaches to Attention-based Neural Machine Translation",
    EMNLP 2015, eq. 5 and section 3.3), over the encoder's outputs (memory)
    :math:`m` with keys :math:`k` and source mask:

    .. math::

        x'_t &= [x_t ; a_{t-1}] \qquad \text{(input feeding; } x_t \text{ alone when off)} \\
        o_t, s_t &= \mathrm{cell}(x'_t, s_{t-1}) \\
        c_t, \alpha_t &= \mathrm{attention}(o_t, m, k, \mathrm{mask}) \\
        a_t &= g(W_c [o_t ; c_t]) \qquad (a_t = c_t \text{ when attention\_size} = 0) \\
        \mathrm{output}_t &= a_t

    :math:`W_c` is ``attention_kernel`` ``(cell output + memory width,
    attention_size)``, no bias. :math:`g` is ``attention_activation``: the
    identity by default, as in tensorflow-addons' ``AttentionWrapper`` (its
    ``attention_layer`` is a bias-free linear ``Dense``), or ``"tanh"`` as in
    Luong's eq. 5. The linear form trains markedly faster: on fra-eng (GRU,
    128 units, 6,000 pairs, 4 epochs) the validation loss reached 2.61
    linear against 3.46 with tanh, and 2.87 without attention (measured with
    TensorFlow; the tanh after a tanh-bounded cell output saturates). The attention is a
    :class:`~kerasrnn.layers.LuongAttention` or
    :class:`~kerasrnn.layers.BahdanauAttention`; the cell any Keras or kerasrnn
    cell, or a ``keras.layers.StackedRNNCells``.

    States, flat, in this order: ``[*inner cell states, a_{t-1} (B, A),
    alpha_{t-1} (B, S), memory (B, S*Dv), keys (B, S*Dk), memory_mask (B, S)]``
    (a StackedRNNCells' nested states flattened, cell after cell). The memory,
    its keys and the float mask (1 real, 0 padding) ride along unchanged, so
    the wrapper runs in a plain ``keras.layers.RNN`` given
    ``initial_state=cell.initial_states(...)``, with decoder-step masks,
    jit-compiled, and with a source length S that may differ from batch to
    batch (unknown in a traced TensorFlow function).

    Why the memory and keys are carried flattened, ``(B, S*Dv)`` rather than
    ``(B, S, Dv)``: on masked decoder steps ``keras.layers.RNN`` keeps each
    state with ``where(mask_t, new, old)``, and Keras' JAX loop broadcasts a
    ``(B, 1)`` step mask against every state, which works for rank-2 states
    only; TensorFlow's loop tiles the mask to the state's static shape past
    the second axis. Rank-2 states with a static or unknown second axis work
    on all three backends; the cell reshapes them back each step.

    ``keras.layers.RNN`` describes states symbolically as ``(batch, size)``
    from ``state_size``, fixed when the RNN is created: in a functional graph
    the returned last four states have the sizes known when the RNN was
    created (S = 1 when unknown); their tensors are as listed above.

    In a functional graph, :meth:`initial_states` calls the attention's
    ``memory_layer`` (Bahdanau, Luong general) on the graph, so that layer is
    held both by the graph and by this cell: such a model trains and exports,
    but Keras' ``.keras`` format cannot save a layer held twice. Build the
    decoder inside a layer or a subclassed model (its ``call`` computing the
    initial states) to save it as ``.keras``.

    Dropout: the inner cell's (or each stacked cell's) dropout masks are drawn
    once per sequence, before the loop, as ``keras.layers.RNN`` does for a bare
    cell: the wrapper is a Keras ``DropoutRNNCell`` whose mask hooks pass the
    inner cells inputs of the right widths (``[x_t; a_{t-1}]`` for the first).

    Args:
        cell: The recurrent cell (a layer).
        attention: The attention layer.
        attention_size: Width :math:`A` of :math:`a_t`; ``None``: the cell's
            output width; ``0``: no :math:`W_c`, :math:`a_t = c_t`.
        input_feeding: Concatenate :math:`a_{t-1}` to the input.
        kernel_initializer: Initializer of :math:`W_c`.
        attention_activation: :math:`g`: ``None`` (linear, the default, as
            tfa's ``AttentionWrapper``) or an activation such as ``"tanh"``
            (Luong et al. 2015, eq. 5).
        **kwargs: Keras layer arguments.

    Example::

        cell = kerasrnn.layers.AttentionCell(keras.layers.LSTMCell(64), kerasrnn.layers.LuongAttention())
        states = cell.initial_states(encoder_states, encoder_outputs, memory_mask=source_mask)
        outputs = keras.layers.RNN(cell, return_sequences=True)(embedded_targets, initial_state=states)
    """

    def __init__(
        self,
        cell,
        attention,
        attention_size: int | None = None,
        input_feeding: bool = True,
        kernel_initializer="glorot_uniform",
        attention_activation=None,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        if isinstance(cell, dict):
            cell = keras.saving.deserialize_keras_object(cell)
        if isinstance(attention, dict):
            attention = keras.saving.deserialize_keras_object(attention)
        if not hasattr(cell, "state_size"):
            raise ValueError(f"AttentionCell: `cell` must be a recurrent cell with a state_size; received {cell!r}.")
        if attention_size is not None and (not isinstance(attention_size, int) or attention_size < 0):
            raise ValueError(
                f"AttentionCell: `attention_size` must be None or an int >= 0; received {attention_size!r}."
            )
        self.cell = cell
        self.attention = attention
        self.attention_size = attention_size
        self.input_feeding = bool(input_feeding)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.attention_activation = keras.activations.get(attention_activation)
        self.inner_state_count = len(_flat_sizes(cell.state_size))
        self.query_size = _output_size(cell)
        self.memory_shape = None  # (S or None, Dv), known once a memory is seen
        self.keys_dim = None
        self.attention_kernel = None
        self.step_input_shape = None

    # -- sizes -----------------------------------------------------------------

    @property
    def output_size(self) -> int:
        if self.attention_size is None:
            return self.query_size
        if self.attention_size > 0:
            return self.attention_size
        return self.memory_shape[1] if self.memory_shape else 1

    @property
    def state_size(self) -> list[int]:
        steps, memory_dim = self.memory_shape or (None, 1)
        steps = steps or 1
        return [
            *_flat_sizes(self.cell.state_size),
            self.output_size,
            steps,
            steps * memory_dim,
            steps * (self.keys_dim or 1),
            steps,
        ]

    # -- building --------------------------------------------------------------

    def build_attention(self, memory_shape: Shape) -> None:
        """Creates the attention's weights and :math:`W_c` for a memory of shape ``(B, S, Dv)``."""
        memory_shape = tuple(memory_shape)
        self.memory_shape = (memory_shape[1], memory_shape[2])
        if not self.attention.built:
            self.attention.build((None, self.query_size), memory_shape)
        self.keys_dim = self.attention.memory_keys(
            keras.KerasTensor((1,) + tuple(1 if d is None else d for d in memory_shape[1:]))
        ).shape[-1]
        if self.attention_size != 0 and self.attention_kernel is None:
            self.attention_kernel = self.add_weight(
                name="attention_kernel",
                shape=(self.query_size + memory_shape[2], self.output_size),
                initializer=self.kernel_initializer,
            )

    def build(self, input_shape: Shape) -> None:
        self.step_input_shape = tuple(input_shape)
        inner_input = input_shape[-1] + (self.output_size if self.input_feeding else 0)
        if self.input_feeding and self.attention_size == 0 and self.memory_shape is None:
            raise ValueError(
                "AttentionCell(attention_size=0, input_feeding=True) needs the memory width before it is built: "
                "call cell.initial_states(...) first."
            )
        if not self.cell.built:
            self.cell.build((input_shape[0], inner_input))
        self.built = True

    def get_build_config(self) -> dict | None:
        if self.step_input_shape is None:
            return None
        return {"input_shape": self.step_input_shape, "memory_shape": (None, *self.memory_shape)}

    def build_from_config(self, config: dict) -> None:
        if config.get("memory_shape") is not None:
            self.build_attention(config["memory_shape"])
        self.build(config["input_shape"])

    # -- states ----------------------------------------------------------------

    def initial_states(self, inner_states, memory: Tensor, keys: Tensor | None = None, memory_mask=None) -> list:
        """The RNN's ``initial_state``: ``[*inner_states, zeros a, zeros alpha, memory, keys, memory_mask]``.

        ``inner_states``: the cell's initial states (a tensor or a list,
        nested for StackedRNNCells); ``keys``: ``attention.memory_keys(memory)``
        when ``None``; ``memory_mask``: ``(B, S)`` bool or float, all real
        when ``None``. Creates the attention's weights if needed.
        """
        if self.memory_shape is None or self.attention_kernel is None and self.attention_size != 0:
            self.build_attention(memory.shape)
        if keys is None:
            keys = self.attention.memory_keys(memory)
        column = ops.zeros_like(memory[:, :, 0])  # (B, S)
        mask = ops.ones_like(column) if memory_mask is None else ops.cast(memory_mask, column.dtype)
        attention = ops.repeat(ops.zeros_like(memory[:, 0, :1]), self.output_size, axis=1)
        if not isinstance(inner_states, (list, tuple)):
            inner_states = [inner_states]
        flat = keras.tree.flatten(list(inner_states))
        if len(flat) != self.inner_state_count:
            raise ValueError(
                f"AttentionCell.initial_states: the cell has {self.inner_state_count} states; "
                f"received {len(flat)} inner states."
            )
        flat_memory, flat_keys = _flatten(memory), _flatten(keys)
        return [*flat, attention, column, flat_memory, flat_keys, mask]

    def get_initial_state(self, batch_size=None):
        raise ValueError(
            "AttentionCell needs the encoder's memory: pass initial_state=cell.initial_states(inner_states, "
            "memory, keys, memory_mask) to keras.layers.RNN."
        )

    # -- dropout masks (drawn by keras.layers.RNN before its loop) --------------

    def _inner_cells(self) -> list:
        return list(self.cell.cells) if isinstance(self.cell, keras.layers.StackedRNNCells) else [self.cell]

    def get_dropout_mask(self, step_input: Tensor):
        """Draws the inner cells' input and recurrent masks for this sequence; the wrapper has none of its own."""
        column = ops.zeros_like(step_input[:, :1])
        width = step_input.shape[-1] + (self.output_size if self.input_feeding else 0)
        for cell in self._inner_cells():
            if isinstance(cell, DropoutRNNCell):
                cell.get_dropout_mask(ops.repeat(column, width, axis=1))
                cell.get_recurrent_dropout_mask(ops.repeat(column, _flat_sizes(cell.state_size)[0], axis=1))
            width = _output_size(cell)
        return None

    def get_recurrent_dropout_mask(self, step_input: Tensor):
        return None

    def reset_dropout_mask(self) -> None:
        for cell in self._inner_cells():
            if isinstance(cell, DropoutRNNCell):
                cell.reset_dropout_mask()

    def reset_recurrent_dropout_mask(self) -> None:
        for cell in self._inner_cells():
            if isinstance(cell, DropoutRNNCell):
                cell.reset_recurrent_dropout_mask()

    # -- the step --------------------------------------------------------------

    def call(self, inputs: Tensor, states, training=False):
        states = list(states)
        count = self.inner_state_count
        inner = _pack(self.cell.state_size, states[:count])
        previous_attention, _, flat_memory, flat_keys, memory_mask = states[count:]
        batch = ops.shape(flat_memory)[0]
        memory = ops.reshape(flat_memory, (batch, -1, self.memory_shape[1]))
        keys = ops.reshape(flat_keys, (batch, -1, self.keys_dim))
        if self.input_feeding:
            inputs = ops.concatenate([inputs, ops.cast(previous_attention, inputs.dtype)], axis=-1)
        output, new_inner = self.cell(inputs, inner, training=training)
        context, alignment = self.attention(output, memory, keys=keys, mask=ops.greater(memory_mask, 0.5))
        if self.attention_kernel is None:
            attention = context
        else:
            attention = self.attention_activation(
                ops.matmul(ops.concatenate([output, context], axis=-1), self.attention_kernel)
            )
        new_inner = keras.tree.flatten(new_inner if isinstance(new_inner, (list, tuple)) else [new_inner])
        return attention, [*new_inner, attention, alignment, flat_memory, flat_keys, memory_mask]

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "cell": keras.saving.serialize_keras_object(self.cell),
            "attention": keras.saving.serialize_keras_object(self.attention),
            "attention_size": self.attention_size,
            "input_feeding": self.input_feeding,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "attention_activation": keras.activations.serialize(self.attention_activation),
        }
