"""Minimal Gated Unit (Zhou, Wu, Zhang & Zhou, 2016)."""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import ops

from kerasrnn import backend as fast_paths
from kerasrnn.layers.cell_rnn import CellRNN
from kerasrnn.layers.recurrent_cell import RecurrentCell
from kerasrnn.layers.tensor_types import Shape, Tensor


@keras.saving.register_keras_serializable(package="kerasrnn")
class MGUCell(RecurrentCell):
    r"""The Minimal Gated Unit: a GRU with one gate.

    Zhou, Wu, Zhang & Zhou, "Minimal Gated Unit for Recurrent Neural Networks",
    International Journal of Automation and Computing 13(3), 2016
    (arXiv:1603.09420). The single forget gate plays both GRU gates' parts:

    .. math::

        f_t &= \sigma(W_f x_t + U_f h_{t-1} + b_f) \\
        \tilde h_t &= \tanh\big(W_h x_t + U_h (f_t \odot h_{t-1}) + b_h\big) \\
        h_t &= (1 - f_t) \odot h_{t-1} + f_t \odot \tilde h_t

    Weights (gate order **f, h**):

    * ``kernel``: ``(input_dim, 2 * units)`` = :math:`[W_f, W_h]`
    * ``recurrent_kernel``: ``(units, 2 * units)`` = :math:`[U_f, U_h]`
    * ``bias``: ``(2 * units,)`` = :math:`[b_f, b_h]`

    ``activation`` (default tanh) is the candidate's :math:`\tanh`,
    ``recurrent_activation`` (default sigmoid) the gate's :math:`\sigma`.
    ``recurrent_dropout`` drops :math:`h_{t-1}` where it enters both matrix
    products (one mask per sequence); the interpolation uses the undropped
    state.

    States: ``[h]``; the output is ``h``.

    Args:
        units: Dimensionality of the state.
        **kwargs: See :class:`~kerasrnn.layers.recurrent_cell.RecurrentCell`
            (activations, initializers, regularizers, constraints, dropout,
            recurrent_dropout, seed).

    Example::

        cell = kerasrnn.layers.MGUCell(32)
        y = keras.layers.RNN(cell)(keras.random.normal((4, 10, 8)))  # (4, 32)
    """

    def build(self, input_shape: Shape) -> None:
        input_dim = self.input_dim_of(input_shape)
        self.kernel = self.add_kernel(input_dim, 2 * self.units)
        self.recurrent_kernel = self.add_recurrent_kernel(2 * self.units)
        self.bias = self.add_bias(2 * self.units)

    def project_inputs(self, inputs: Tensor) -> Tensor:
        # [W_f x + b_f, W_h x + b_h]
        return fast_paths.affine(inputs, self.kernel, self.bias if self.use_bias else None)

    def recurrent_step(
        self, projected: Tensor, states: Sequence[Tensor], training: bool = False
    ) -> tuple[Tensor, list[Tensor]]:
        h_tm1 = states[0]
        h = self.dropped_state(h_tm1, training)
        u = self.units
        p_f, p_h = ops.split(projected, 2, axis=-1)
        f = self.recurrent_activation(p_f + ops.matmul(h, self.recurrent_kernel[:, :u]))
        candidate = self.activation(p_h + ops.matmul(f * h, self.recurrent_kernel[:, u:]))
        h_t = (1.0 - f) * h_tm1 + f * candidate
        return h_t, [h_t]


@keras.saving.register_keras_serializable(package="kerasrnn")
class MGU(CellRNN):
    """Minimal Gated Unit layer: ``keras.layers.RNN(MGUCell(...))``.

    Takes every :class:`MGUCell` argument and the ``keras.layers.RNN``
    arguments (``return_sequences``, ``return_state``, ``go_backwards``,
    ``stateful``, ``unroll``).

    Example::

        y = kerasrnn.layers.MGU(64, return_sequences=True)(x)  # (batch, time, 64)
    """

    cell_class = MGUCell

    def whole_sequence(
        self, sequences: Tensor, initial_state: Sequence[Tensor], mask: Tensor | None, training: bool
    ) -> tuple[Tensor, Tensor, Sequence[Tensor]]:
        # MGU is MUT2's form with its two gates tied (z = r = f): the backend's reset-before recurrence
        # (torch's C++ step kernels) runs it with the sums [p_f, p_f, p_h] and the kernel [U_f, U_f, U_h];
        # autograd adds the tied halves' gradients.
        cell = self.cell
        u = cell.units

        def tied_inputs(x: Tensor) -> Tensor:
            p_f, p_h = ops.split(cell.project_inputs(cell.dropped_inputs(x, training)), 2, axis=-1)
            return ops.concatenate([p_f, p_f, p_h], axis=-1)

        kernel = cell.recurrent_kernel
        return fast_paths.reset_before_rnn(
            sequences,
            initial_state[0],
            mask,
            recurrent_kernel=ops.concatenate([kernel[:, :u], kernel], axis=-1),
            cell="mut2",
            activation=cell.activation,
            recurrent_activation=cell.recurrent_activation,
            **{**self.sequence_options(training), "project_inputs": tied_inputs},
        )
