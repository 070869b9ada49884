"""MUT3, the third evolved GRU variant of Jozefowicz, Zaremba & Sutskever (2015)."""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import ops

from kerasrnn import backend as fast_paths
from kerasrnn.layers.mut_cell import MUTCell
from kerasrnn.layers.mut_rnn import MUTRNN
from kerasrnn.layers.tensor_types import Shape, Tensor


@keras.saving.register_keras_serializable(package="kerasrnn")
class MUT3Cell(MUTCell):
    r"""The MUT3 cell.

    Jozefowicz, Zaremba & Sutskever, "An Empirical Exploration of Recurrent
    Network Architectures", ICML 2015:

    .. math::

        z_t &= \sigma(W_{xz} x_t + W_{hz} \tanh(h_{t-1}) + b_z) \\
        r_t &= \sigma(W_{xr} x_t + W_{hr} h_{t-1} + b_r) \\
        h_t &= \tanh\big(W_{hh} (r_t \odot h_{t-1}) + W_{xh} x_t + b_h\big)
               \odot z_t + h_{t-1} \odot (1 - z_t)

    Every term has its own weight matrix, so any input width works.

    Weights (gate order **z, r, h**):

    * ``kernel``: ``(input_dim, 3 * units)`` = :math:`[W_{xz}, W_{xr}, W_{xh}]`
    * ``recurrent_kernel``: ``(units, 3 * units)`` = :math:`[W_{hz}, W_{hr}, W_{hh}]`
    * ``bias``: ``(3 * units,)`` = :math:`[b_z, b_r, b_h]`

    Args:
        units: Dimensionality of the state.
        **kwargs: See :class:`~kerasrnn.layers.recurrent_cell.RecurrentCell`.

    Example::

        y = keras.layers.RNN(kerasrnn.layers.MUT3Cell(32))(x)
    """

    #: The whole-sequence form of this cell in ``kerasrnn.backend`` (``reset_before_rnn``).
    fused_form = "mut3"

    def build(self, input_shape: Shape) -> None:
        input_dim = self.input_dim_of(input_shape)
        self.kernel = self.add_kernel(input_dim, 3 * self.units)
        self.recurrent_kernel = self.add_recurrent_kernel(3 * self.units)
        self.bias = self.add_bias(3 * self.units)

    def project_inputs(self, inputs: Tensor) -> Tensor:
        return fast_paths.affine(inputs, self.kernel, self.bias if self.use_bias else None)

    def recurrent_step(
        self, projected: Tensor, states: Sequence[Tensor], training: bool = False
    ) -> tuple[Tensor, list[Tensor]]:
        h_tm1 = states[0]
        h = self.dropped_state(h_tm1, training)
        u = self.units
        p_z, p_r, p_h = ops.split(projected, 3, axis=-1)
        z = self.recurrent_activation(p_z + ops.matmul(ops.tanh(h), self.recurrent_kernel[:, :u]))
        r = self.recurrent_activation(p_r + ops.matmul(h, self.recurrent_kernel[:, u : 2 * u]))
        candidate = self.activation(ops.matmul(r * h, self.recurrent_kernel[:, 2 * u :]) + p_h)
        h_t = self.interpolate(candidate, z, h_tm1)
        return h_t, [h_t]


@keras.saving.register_keras_serializable(package="kerasrnn")
class MUT3(MUTRNN):
    """MUT3 layer: ``keras.layers.RNN(MUT3Cell(...))``.

    Example::

        y = kerasrnn.layers.MUT3(64)(x)
    """

    cell_class = MUT3Cell
