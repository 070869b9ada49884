"""The NAS cell found by Neural Architecture Search (Zoph & Le, 2017)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
from keras import constraints, initializers, ops, regularizers

from kerasrnn import backend as fast_paths
from kerasrnn.layers.cell_rnn import CellRNN
from kerasrnn.layers.recurrent_cell import RecurrentCell
from kerasrnn.layers.tensor_types import Identifier, Shape, Tensor

NAS_BASE = 8  # the cell's eight branches


@keras.saving.register_keras_serializable(package="kerasrnn")
class NASCell(RecurrentCell):
    r"""The recurrent cell found by reinforcement-learned architecture search.

    Zoph & Le, "Neural Architecture Search with Reinforcement Learning",
    ICLR 2017 (arXiv:1611.01578), in tensorflow-addons' ``NASCell`` form
    (equations, weight shapes and defaults), with an optional projection of
    the output (tfa's ``projection``, TF1's ``num_proj``).

    With :math:`a = x_t W` and :math:`m = h_{t-1} R + b` each split into
    eight parts :math:`a_0 \dots a_7`, :math:`m_0 \dots m_7`:

    .. math::

        l_0 &= \sigma(a_0 + m_0), \quad l_1 = \mathrm{relu}(a_1 + m_1), \quad
        l_2 = \sigma(a_2 + m_2), \quad l_3 = \mathrm{relu}(a_3 \odot m_3) \\
        l_4 &= \tanh(a_4 + m_4), \quad l_5 = \sigma(a_5 + m_5), \quad
        l_6 = \tanh(a_6 + m_6), \quad l_7 = \sigma(a_7 + m_7) \\
        k_0 &= \tanh\big(\tanh(l_0 \odot l_1) + c_{t-1}\big), \quad
        k_1 = \tanh(l_2 + l_3), \quad k_2 = \tanh(l_4 \odot l_5), \quad
        k_3 = \sigma(l_6 + l_7) \\
        c_t &= k_0 \odot k_1 \\
        h_t &= \tanh\big(c_t \odot \tanh(k_2 + k_3)\big) \; [\,P\,]

    (branch 3 multiplies its two parts; the bias, when used, is added to the
    recurrent part :math:`m`, as in tfa). With ``projection=p`` the output is
    :math:`h_t = \tanh(\cdot) P` of width ``p``; without, of width ``units``.

    ``activation`` (default tanh) is every :math:`\tanh` above,
    ``recurrent_activation`` (default sigmoid) every :math:`\sigma`; the two
    relus are part of the architecture and fixed.

    Weights (branch order 0..7 as above):

    * ``kernel``: ``(input_dim, 8 * units)`` = :math:`W`
    * ``recurrent_kernel``: ``(output_size, 8 * units)`` = :math:`R`, where
      ``output_size`` is ``projection`` or ``units``
    * ``bias``: ``(8 * units,)`` = :math:`b`, only with ``use_bias``
      (default ``False``, as tfa)
    * ``projection_weights``: ``(units, projection)`` = :math:`P`, only with
      ``projection``

    States: ``[h, c]`` (``h`` of width ``output_size``, ``c`` of width
    ``units``); the output is ``h``. tfa's state order is ``(c, h)``; here it
    is reversed so that the output is the first state, as for every
    kerasrnn cell.

    Args:
        units: Width of the cell state :math:`c` (and of the branches).
        projection: Optional output width (``None``: no projection).
        use_bias: Whether to use the bias (default ``False``, as tfa).
        recurrent_initializer: Default ``"glorot_uniform"``, as tfa.
        projection_initializer, projection_regularizer, projection_constraint:
            For ``projection_weights``.
        **kwargs: See :class:`~kerasrnn.layers.recurrent_cell.RecurrentCell`
            (activations, initializers, regularizers, constraints, dropout,
            recurrent_dropout, seed).

    Example::

        cell = kerasrnn.layers.NASCell(32, projection=16)
        y = keras.layers.RNN(cell)(keras.random.normal((4, 10, 8)))  # (4, 16)
    """

    def __init__(
        self,
        units: int,
        projection: int | None = None,
        use_bias: bool = False,
        recurrent_initializer: Identifier = "glorot_uniform",
        projection_initializer: Identifier = "glorot_uniform",
        projection_regularizer: Identifier = None,
        projection_constraint: Identifier = None,
        **kwargs: Any,
    ) -> None:
        if projection is not None and (
            not isinstance(projection, int) or isinstance(projection, bool) or projection <= 0
        ):
            raise ValueError(
                f"{type(self).__name__}: `projection` must be a positive integer or "
                f"None, received projection={projection!r}."
            )
        super().__init__(units, use_bias=use_bias, recurrent_initializer=recurrent_initializer, **kwargs)
        self.projection = projection
        self.projection_initializer = initializers.get(projection_initializer)
        self.projection_regularizer = regularizers.get(projection_regularizer)
        self.projection_constraint = constraints.get(projection_constraint)
        output_size = units if projection is None else projection
        self.state_size = [output_size, units]
        self.output_size = output_size

    def build(self, input_shape: Shape) -> None:
        input_dim = self.input_dim_of(input_shape)
        width = NAS_BASE * self.units
        self.kernel = self.add_kernel(input_dim, width)
        self.recurrent_kernel = self.add_weight(
            shape=(self.output_size, width),
            name="recurrent_kernel",
            initializer=self.recurrent_initializer,
            regularizer=self.recurrent_regularizer,
            constraint=self.recurrent_constraint,
        )
        self.bias = self.add_bias(width)
        self.projection_weights = None
        if self.projection is not None:
            self.projection_weights = self.add_weight(
                shape=(self.units, self.projection),
                name="projection_weights",
                initializer=self.projection_initializer,
                regularizer=self.projection_regularizer,
                constraint=self.projection_constraint,
            )

    def project_inputs(self, inputs: Tensor) -> Tensor:
        return ops.matmul(inputs, self.kernel)  # the bias belongs to the recurrent part

    def recurrent_step(
        self, projected: Tensor, states: Sequence[Tensor], training: bool = False
    ) -> tuple[Tensor, list[Tensor]]:
        h_tm1, c_tm1 = states
        m = ops.matmul(self.dropped_state(h_tm1, training), self.recurrent_kernel)
        if self.use_bias:
            m = m + self.bias
        a = ops.split(projected, NAS_BASE, axis=-1)
        m = ops.split(m, NAS_BASE, axis=-1)
        sigmoid, tanh, relu = self.recurrent_activation, self.activation, ops.relu
        # First layer.
        l0 = sigmoid(a[0] + m[0])
        l1 = relu(a[1] + m[1])
        l2 = sigmoid(a[2] + m[2])
        l3 = relu(a[3] * m[3])
        l4 = tanh(a[4] + m[4])
        l5 = sigmoid(a[5] + m[5])
        l6 = tanh(a[6] + m[6])
        l7 = sigmoid(a[7] + m[7])
        # Second layer, with the cell state injected into branch 0.
        k0 = tanh(tanh(l0 * l1) + c_tm1)
        k1 = tanh(l2 + l3)
        k2 = tanh(l4 * l5)
        k3 = sigmoid(l6 + l7)
        # Third and final layers.
        c = k0 * k1
        h = tanh(c * tanh(k2 + k3))
        if self.projection_weights is not None:
            h = ops.matmul(h, self.projection_weights)
        return h, [h, c]

    def get_config(self) -> dict[str, Any]:
        config = {
            "projection": self.projection,
            "projection_initializer": initializers.serialize(self.projection_initializer),
            "projection_regularizer": regularizers.serialize(self.projection_regularizer),
            "projection_constraint": constraints.serialize(self.projection_constraint),
        }
        return {**super().get_config(), **config}


@keras.saving.register_keras_serializable(package="kerasrnn")
class NAS(CellRNN):
    """NAS layer: ``keras.layers.RNN(NASCell(...))``.

    Takes every :class:`NASCell` argument and the ``keras.layers.RNN``
    arguments (``return_sequences``, ``return_state``, ``go_backwards``,
    ``stateful``, ``unroll``).

    Example::

        y = kerasrnn.layers.NAS(64, return_sequences=True)(x)  # (batch, time, 64)
    """

    cell_class = NASCell

    def whole_sequence(
        self, sequences: Tensor, initial_state: Sequence[Tensor], mask: Tensor | None, training: bool
    ) -> tuple[Tensor, Tensor, Sequence[Tensor]]:
        cell = self.cell
        if cell.projection is not None:
            raise NotImplementedError  # NAS with a projection has no whole-sequence form
        return fast_paths.nas(
            sequences,
            initial_state[0],
            initial_state[1],
            mask,
            recurrent_kernel=cell.recurrent_kernel,
            bias=cell.bias if cell.use_bias else None,
            activation=cell.activation,
            recurrent_activation=cell.recurrent_activation,
            **self.sequence_options(training),
        )
