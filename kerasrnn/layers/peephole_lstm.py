"""Peephole LSTM (Gers & Schmidhuber, 2000)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
from keras import constraints, initializers, ops, regularizers

from kerasrnn import backend as fast_paths
from kerasrnn.layers.cell_rnn import CellRNN
from kerasrnn.layers.projected_lstm_cell import check_proj_size
from kerasrnn.layers.recurrent_cell import RecurrentCell
from kerasrnn.layers.tensor_types import Identifier, Shape, Tensor


@keras.saving.register_keras_serializable(package="kerasrnn")
class PeepholeLSTMCell(RecurrentCell):
    r"""LSTM cell whose gates also look at the cell state (peepholes).

    Gers & Schmidhuber, "Recurrent nets that time and count" (IJCNN 2000), in the
    form of Sak et al. (2014) and tensorflow-addons' ``PeepholeLSTMCell``:

    .. math::

        i_t &= \sigma(W_i x_t + U_i h_{t-1} + p_i \odot c_{t-1} + b_i) \\
        f_t &= \sigma(W_f x_t + U_f h_{t-1} + p_f \odot c_{t-1} + b_f) \\
        c_t &= f_t \odot c_{t-1} + i_t \odot \tanh(W_c x_t + U_c h_{t-1} + b_c) \\
        o_t &= \sigma(W_o x_t + U_o h_{t-1} + p_o \odot c_t + b_o) \\
        h_t &= o_t \odot \tanh(c_t) \; [\, P \,]

    The peepholes :math:`p_i, p_f, p_o` are diagonal (vectors of shape
    ``(units,)``); the output gate looks at the *new* cell state. With
    ``proj_size=p > 0`` (Sak et al.'s LSTMP; ``torch.nn.LSTM``'s
    ``proj_size``) the output and recurrent state are projected:
    :math:`h_t = (o_t \odot \tanh(c_t)) P`, ``h`` of width ``p``, ``c`` of
    width ``units``.

    Weights (gate order **i, f, c, o**, as ``keras.layers.LSTMCell``):

    * ``kernel``: ``(input_dim, 4 * units)`` = :math:`[W_i, W_f, W_c, W_o]`
    * ``recurrent_kernel``: ``(units, 4 * units)`` = :math:`[U_i, U_f, U_c, U_o]`;
      ``(proj_size, 4 * units)`` with a projection
    * ``bias``: ``(4 * units,)``; the forget part starts at 1 when
      ``unit_forget_bias`` (Jozefowicz et al., 2015)
    * ``input_gate_peephole``, ``forget_gate_peephole``,
      ``output_gate_peephole``: ``(units,)`` each
    * ``projection_kernel``: ``(units, proj_size)`` = :math:`P`, only with
      ``proj_size > 0``

    States: ``[h, c]`` (sizes ``[proj_size or units, units]``); the output is ``h``.

    Args:
        units: Dimensionality of the state.
        unit_forget_bias: Start the forget-gate bias at 1.
        peephole_initializer, peephole_regularizer, peephole_constraint:
            For the three peephole vectors.
        proj_size: Width of the projected output and hidden state,
            ``0 <= proj_size < units`` (PyTorch's bounds); 0: no projection.
        projection_initializer, projection_regularizer, projection_constraint:
            For ``projection_kernel``.
        **kwargs: See :class:`~kerasrnn.layers.recurrent_cell.RecurrentCell`
            (activations, initializers, regularizers, constraints, dropout,
            recurrent_dropout, seed).

    Example::

        cell = kerasrnn.layers.PeepholeLSTMCell(32)
        y = keras.layers.RNN(cell)(keras.random.normal((4, 10, 8)))  # (4, 32)
    """

    def __init__(
        self,
        units: int,
        unit_forget_bias: bool = True,
        peephole_initializer: Identifier = "glorot_uniform",
        peephole_regularizer: Identifier = None,
        peephole_constraint: Identifier = None,
        proj_size: int = 0,
        projection_initializer: Identifier = "glorot_uniform",
        projection_regularizer: Identifier = None,
        projection_constraint: Identifier = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(units, **kwargs)
        self.unit_forget_bias = unit_forget_bias
        self.peephole_initializer = initializers.get(peephole_initializer)
        self.peephole_regularizer = regularizers.get(peephole_regularizer)
        self.peephole_constraint = constraints.get(peephole_constraint)
        self.proj_size = check_proj_size(type(self).__name__, proj_size, units)
        self.projection_initializer = initializers.get(projection_initializer)
        self.projection_regularizer = regularizers.get(projection_regularizer)
        self.projection_constraint = constraints.get(projection_constraint)
        self.output_size = proj_size or units
        self.state_size = [self.output_size, units]

    def build(self, input_shape: Shape) -> None:
        input_dim = self.input_dim_of(input_shape)
        units = self.units
        self.kernel = self.add_kernel(input_dim, 4 * units)
        self.recurrent_kernel = self.add_weight(
            shape=(self.output_size, 4 * units),
            name="recurrent_kernel",
            initializer=self.recurrent_initializer,
            regularizer=self.recurrent_regularizer,
            constraint=self.recurrent_constraint,
        )
        self.bias = self.add_lstm_bias(self.unit_forget_bias)
        self.input_gate_peephole, self.forget_gate_peephole, self.output_gate_peephole = (
            self.add_weight(
                shape=(units,),
                name=name,
                initializer=self.peephole_initializer,
                regularizer=self.peephole_regularizer,
                constraint=self.peephole_constraint,
            )
            for name in (
                "input_gate_peephole",
                "forget_gate_peephole",
                "output_gate_peephole",
            )
        )
        self.projection_kernel = None
        if self.proj_size:
            self.projection_kernel = self.add_weight(
                shape=(units, self.proj_size),
                name="projection_kernel",
                initializer=self.projection_initializer,
                regularizer=self.projection_regularizer,
                constraint=self.projection_constraint,
            )

    def project_inputs(self, inputs: Tensor) -> Tensor:
        return fast_paths.affine(inputs, self.kernel, self.bias if self.use_bias else None)

    def recurrent_step(
        self, projected: Tensor, states: Sequence[Tensor], training: bool = False
    ) -> tuple[Tensor, list[Tensor]]:
        h_tm1, c_tm1 = states
        h = self.dropped_state(h_tm1, training)
        z = projected + ops.matmul(h, self.recurrent_kernel)
        z_i, z_f, z_c, z_o = ops.split(z, 4, axis=-1)
        i = self.recurrent_activation(z_i + self.input_gate_peephole * c_tm1)
        f = self.recurrent_activation(z_f + self.forget_gate_peephole * c_tm1)
        c = f * c_tm1 + i * self.activation(z_c)
        o = self.recurrent_activation(z_o + self.output_gate_peephole * c)
        h = o * self.activation(c)
        if self.projection_kernel is not None:
            h = ops.matmul(h, self.projection_kernel)
        return h, [h, c]

    def get_config(self) -> dict[str, Any]:
        config = {
            "unit_forget_bias": self.unit_forget_bias,
            "peephole_initializer": initializers.serialize(self.peephole_initializer),
            "peephole_regularizer": regularizers.serialize(self.peephole_regularizer),
            "peephole_constraint": constraints.serialize(self.peephole_constraint),
            "proj_size": self.proj_size,
            "projection_initializer": initializers.serialize(self.projection_initializer),
            "projection_regularizer": regularizers.serialize(self.projection_regularizer),
            "projection_constraint": constraints.serialize(self.projection_constraint),
        }
        return {**super().get_config(), **config}


@keras.saving.register_keras_serializable(package="kerasrnn")
class PeepholeLSTM(CellRNN):
    """Peephole LSTM layer: ``keras.layers.RNN(PeepholeLSTMCell(...))``.

    Takes every :class:`PeepholeLSTMCell` argument and the
    ``keras.layers.RNN`` arguments (``return_sequences``, ``return_state``,
    ``go_backwards``, ``stateful``, ``unroll``).

    Example::

        layer = kerasrnn.layers.PeepholeLSTM(64, return_sequences=True)
        y = layer(keras.random.normal((8, 20, 16)))  # (8, 20, 64)
    """

    cell_class = PeepholeLSTMCell

    def whole_sequence(
        self, sequences: Tensor, initial_state: Sequence[Tensor], mask: Tensor | None, training: bool
    ) -> tuple[Tensor, Tensor, Sequence[Tensor]]:
        cell = self.cell
        if cell.proj_size:
            raise NotImplementedError  # the projected LSTM (LSTMP) has no whole-sequence form
        return fast_paths.peephole_lstm(
            sequences,
            initial_state[0],
            initial_state[1],
            mask,
            recurrent_kernel=cell.recurrent_kernel,
            input_gate_peephole=cell.input_gate_peephole,
            forget_gate_peephole=cell.forget_gate_peephole,
            output_gate_peephole=cell.output_gate_peephole,
            activation=cell.activation,
            recurrent_activation=cell.recurrent_activation,
            **self.sequence_options(training),
        )
