"""Layer-normalized simple (Elman) RNN (Ba, Kiros & Hinton, 2016), as tensorflow-addons had it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
from keras import constraints, initializers, ops, regularizers

from kerasrnn import backend as fast_paths
from kerasrnn.layers.cell_rnn import CellRNN
from kerasrnn.layers.layer_norm_lstm import layer_norm
from kerasrnn.layers.recurrent_cell import RecurrentCell
from kerasrnn.layers.tensor_types import Identifier, Shape, Tensor


@keras.saving.register_keras_serializable(package="kerasrnn")
class LayerNormSimpleRNNCell(RecurrentCell):
    r"""Simple RNN cell with layer normalization of its summed input.

    Ba, Kiros & Hinton, "Layer Normalization" (2016, arXiv:1607.06450), in
    the form of tensorflow-addons' ``LayerNormSimpleRNNCell``: the sum of the
    input and the recurrent projections is normalized with a scale only
    (no shift of its own), and the bias is added after the normalization:

    .. math::

        a_t &= W x_t + U h_{t-1} \\
        h_t &= f\big(\gamma \odot (a_t - \mu(a_t)) / \sqrt{\sigma^2(a_t)
               + \epsilon} + b\big)

    mean :math:`\mu` and (biased) variance :math:`\sigma^2` over the
    ``units`` features, :math:`f` the ``activation``. The bias plays the part
    of the normalization's shift, so the cell computes
    :math:`f(\mathrm{LN}_{\gamma, b}(a_t))` (with :math:`b = 0` when
    ``use_bias=False``). Dropout masks the input and the recurrent state
    where they enter the two products, as ``keras.layers.SimpleRNNCell``.

    Weights (tensorflow-addons' names):

    * ``kernel``: ``(input_dim, units)``; ``recurrent_kernel``:
      ``(units, units)``; ``bias``: ``(units,)``
    * ``gamma``: ``(units,)``, the normalization's scale

    States: ``[h]``; the output is ``h``.

    Args:
        units: Dimensionality of the state.
        activation: :math:`f` (default ``tanh``).
        layernorm_epsilon: The :math:`\epsilon` of the normalization
            (default 1e-5, as tensorflow-addons).
        gamma_initializer, gamma_regularizer, gamma_constraint: For
            ``gamma`` (default initializer ``ones``).
        **kwargs: See :class:`~kerasrnn.layers.recurrent_cell.RecurrentCell`
            (initializers, regularizers and constraints of the kernels and
            bias, ``dropout``, ``recurrent_dropout``, ``seed``). The cell has
            no gates: ``recurrent_activation`` is accepted (every kerasrnn
            cell takes it) and unused.

    Example::

        layer = keras.layers.RNN(kerasrnn.layers.LayerNormSimpleRNNCell(32))
    """

    def __init__(
        self,
        units: int,
        layernorm_epsilon: float = 1e-5,
        gamma_initializer: Identifier = "ones",
        gamma_regularizer: Identifier = None,
        gamma_constraint: Identifier = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(units, **kwargs)
        self.layernorm_epsilon = float(layernorm_epsilon)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        self.gamma_constraint = constraints.get(gamma_constraint)

    def build(self, input_shape: Shape) -> None:
        input_dim = self.input_dim_of(input_shape)
        units = self.units
        self.kernel = self.add_kernel(input_dim, units)
        self.recurrent_kernel = self.add_recurrent_kernel(units)
        self.bias = self.add_bias(units)
        self.gamma = self.add_weight(
            shape=(units,),
            name="gamma",
            initializer=self.gamma_initializer,
            regularizer=self.gamma_regularizer,
            constraint=self.gamma_constraint,
        )

    def project_inputs(self, inputs: Tensor) -> Tensor:
        return ops.matmul(inputs, self.kernel)

    def recurrent_step(
        self, projected: Tensor, states: Sequence[Tensor], training: bool = False
    ) -> tuple[Tensor, list[Tensor]]:
        (h_tm1,) = states
        h = self.dropped_state(h_tm1, training)
        net = projected + ops.matmul(h, self.recurrent_kernel)
        shift = self.bias if self.use_bias else ops.zeros((self.units,), dtype=self.gamma.dtype)
        h = self.activation(layer_norm(net, self.gamma, shift, self.layernorm_epsilon))
        return h, [h]

    def get_config(self) -> dict[str, Any]:
        config = {
            "layernorm_epsilon": self.layernorm_epsilon,
            "gamma_initializer": initializers.serialize(self.gamma_initializer),
            "gamma_regularizer": regularizers.serialize(self.gamma_regularizer),
            "gamma_constraint": constraints.serialize(self.gamma_constraint),
        }
        return {**super().get_config(), **config}


@keras.saving.register_keras_serializable(package="kerasrnn")
class LayerNormSimpleRNN(CellRNN):
    """Layer-normalized simple RNN layer: ``keras.layers.RNN(LayerNormSimpleRNNCell(...))``.

    Takes every :class:`LayerNormSimpleRNNCell` argument and the
    ``keras.layers.RNN`` arguments (``return_sequences``, ``return_state``,
    ``go_backwards``, ``stateful``, ``unroll``).

    Example::

        layer = kerasrnn.layers.LayerNormSimpleRNN(64)
        y = layer(keras.random.normal((8, 20, 16)))  # (8, 64)
    """

    cell_class = LayerNormSimpleRNNCell

    def whole_sequence(
        self, sequences: Tensor, initial_state: Sequence[Tensor], mask: Tensor | None, training: bool
    ) -> tuple[Tensor, Tensor, Sequence[Tensor]]:
        cell = self.cell
        return fast_paths.layer_norm_simple_rnn(
            sequences,
            initial_state[0],
            mask,
            recurrent_kernel=cell.recurrent_kernel,
            gamma=cell.gamma,
            bias=cell.bias if cell.use_bias else None,
            epsilon=cell.layernorm_epsilon,
            activation=cell.activation,
            **self.sequence_options(training),
        )
