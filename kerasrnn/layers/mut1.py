"""MUT1, the first evolved GRU variant of Jozefowicz, Zaremba & Sutskever (2015)."""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import ops

from kerasrnn.layers.mut_cell import ProjectedMUTCell
from kerasrnn.layers.mut_rnn import MUTRNN
from kerasrnn.layers.tensor_types import Shape, Tensor


@keras.saving.register_keras_serializable(package="kerasrnn")
class MUT1Cell(ProjectedMUTCell):
    r"""The MUT1 cell.

    Jozefowicz, Zaremba & Sutskever, "An Empirical Exploration of Recurrent
    Network Architectures", ICML 2015:

    .. math::

        z_t &= \sigma(W_{xz} x_t + b_z) \\
        r_t &= \sigma(W_{xr} x_t + W_{hr} h_{t-1} + b_r) \\
        h_t &= \tanh\big(W_{hh} (r_t \odot h_{t-1}) + \tanh(x_t) + b_h\big)
               \odot z_t + h_{t-1} \odot (1 - z_t)

    The update gate sees only the input. The bare :math:`\tanh(x_t)` needs
    ``input_dim == units``; otherwise (or with ``input_projection=True``) it
    becomes :math:`\tanh(P x_t)` with a learned ``input_projection`` P.

    Weights (gate order written in brackets):

    * ``kernel``: ``(input_dim, 2 * units)`` = :math:`[W_{xz}, W_{xr}]`
    * ``recurrent_kernel``: ``(units, 2 * units)`` = :math:`[W_{hr}, W_{hh}]`
    * ``bias``: ``(3 * units,)`` = :math:`[b_z, b_r, b_h]`
    * ``input_projection``: ``(input_dim, units)``, only when projecting

    ``activation`` (default tanh) is the outer :math:`\tanh`,
    ``recurrent_activation`` (default sigmoid) the gates' :math:`\sigma`; the
    inner :math:`\tanh(x_t)` is part of the architecture and fixed.

    Args:
        units: Dimensionality of the state.
        input_projection: ``None`` (auto), ``True`` or ``False``; see
            :class:`~kerasrnn.layers.mut_cell.ProjectedMUTCell`.
        **kwargs: See :class:`~kerasrnn.layers.recurrent_cell.RecurrentCell`.

    Example::

        y = keras.layers.RNN(kerasrnn.layers.MUT1Cell(32))(x)  # x: (batch, time, 32)
    """

    #: The whole-sequence form of this cell in ``kerasrnn.backend`` (``reset_before_rnn``).
    fused_form = "mut1"

    def build(self, input_shape: Shape) -> None:
        input_dim = self.input_dim_of(input_shape)
        self.kernel = self.add_kernel(input_dim, 2 * self.units)
        self.recurrent_kernel = self.add_recurrent_kernel(2 * self.units)
        self.bias = self.add_bias(3 * self.units)
        self.build_input_projection(input_dim)

    def project_inputs(self, inputs: Tensor) -> Tensor:
        # [W_xz x + b_z, W_xr x + b_r, tanh(x) + b_h]
        projected = ops.concatenate([ops.matmul(inputs, self.kernel), ops.tanh(self.project(inputs))], axis=-1)
        return projected + self.bias if self.use_bias else projected

    def recurrent_step(
        self, projected: Tensor, states: Sequence[Tensor], training: bool = False
    ) -> tuple[Tensor, list[Tensor]]:
        h_tm1 = states[0]
        h = self.dropped_state(h_tm1, training)
        u = self.units
        p_z, p_r, p_h = ops.split(projected, 3, axis=-1)
        z = self.recurrent_activation(p_z)
        r = self.recurrent_activation(p_r + ops.matmul(h, self.recurrent_kernel[:, :u]))
        candidate = self.activation(ops.matmul(r * h, self.recurrent_kernel[:, u:]) + p_h)
        h_t = self.interpolate(candidate, z, h_tm1)
        return h_t, [h_t]


@keras.saving.register_keras_serializable(package="kerasrnn")
class MUT1(MUTRNN):
    """MUT1 layer: ``keras.layers.RNN(MUT1Cell(...))``.

    Example::

        y = kerasrnn.layers.MUT1(64, return_sequences=True)(x)
    """

    cell_class = MUT1Cell
