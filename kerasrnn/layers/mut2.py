"""MUT2, the second evolved GRU variant of Jozefowicz, Zaremba & Sutskever (2015)."""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import ops

from kerasrnn.layers.mut_cell import ProjectedMUTCell
from kerasrnn.layers.mut_rnn import MUTRNN
from kerasrnn.layers.tensor_types import Shape, Tensor


@keras.saving.register_keras_serializable(package="kerasrnn")
class MUT2Cell(ProjectedMUTCell):
    r"""The MUT2 cell.

    Jozefowicz, Zaremba & Sutskever, "An Empirical Exploration of Recurrent
    Network Architectures", ICML 2015:

    .. math::

        z_t &= \sigma(W_{xz} x_t + W_{hz} h_{t-1} + b_z) \\
        r_t &= \sigma(x_t + W_{hr} h_{t-1} + b_r) \\
        h_t &= \tanh\big(W_{hh} (r_t \odot h_{t-1}) + W_{xh} x_t + b_h\big)
               \odot z_t + h_{t-1} \odot (1 - z_t)

    The reset gate takes the bare input :math:`x_t`, which needs
    ``input_dim == units``; otherwise (or with ``input_projection=True``) it
    takes :math:`P x_t` with a learned ``input_projection`` P.

    Weights (gate order written in brackets):

    * ``kernel``: ``(input_dim, 2 * units)`` = :math:`[W_{xz}, W_{xh}]`
    * ``recurrent_kernel``: ``(units, 3 * units)`` = :math:`[W_{hz}, W_{hr}, W_{hh}]`
    * ``bias``: ``(3 * units,)`` = :math:`[b_z, b_r, b_h]`
    * ``input_projection``: ``(input_dim, units)``, only when projecting

    Args:
        units: Dimensionality of the state.
        input_projection: ``None`` (auto), ``True`` or ``False``; see
            :class:`~kerasrnn.layers.mut_cell.ProjectedMUTCell`.
        **kwargs: See :class:`~kerasrnn.layers.recurrent_cell.RecurrentCell`.

    Example::

        y = keras.layers.RNN(kerasrnn.layers.MUT2Cell(32))(x)
    """

    #: The whole-sequence form of this cell in ``kerasrnn.backend`` (``reset_before_rnn``).
    fused_form = "mut2"

    def build(self, input_shape: Shape) -> None:
        input_dim = self.input_dim_of(input_shape)
        self.kernel = self.add_kernel(input_dim, 2 * self.units)
        self.recurrent_kernel = self.add_recurrent_kernel(3 * self.units)
        self.bias = self.add_bias(3 * self.units)
        self.build_input_projection(input_dim)

    def project_inputs(self, inputs: Tensor) -> Tensor:
        # [W_xz x + b_z, x + b_r, W_xh x + b_h]
        x_z, x_h = ops.split(ops.matmul(inputs, self.kernel), 2, axis=-1)
        projected = ops.concatenate([x_z, self.project(inputs), x_h], axis=-1)
        return projected + self.bias if self.use_bias else projected

    def recurrent_step(
        self, projected: Tensor, states: Sequence[Tensor], training: bool = False
    ) -> tuple[Tensor, list[Tensor]]:
        h_tm1 = states[0]
        h = self.dropped_state(h_tm1, training)
        u = self.units
        p_z, p_r, p_h = ops.split(projected, 3, axis=-1)
        h_z, h_r = ops.split(ops.matmul(h, self.recurrent_kernel[:, : 2 * u]), 2, axis=-1)
        z = self.recurrent_activation(p_z + h_z)
        r = self.recurrent_activation(p_r + h_r)
        candidate = self.activation(ops.matmul(r * h, self.recurrent_kernel[:, 2 * u :]) + p_h)
        h_t = self.interpolate(candidate, z, h_tm1)
        return h_t, [h_t]


@keras.saving.register_keras_serializable(package="kerasrnn")
class MUT2(MUTRNN):
    """MUT2 layer: ``keras.layers.RNN(MUT2Cell(...))``.

    Example::

        y = kerasrnn.layers.MUT2(64)(x)
    """

    cell_class = MUT2Cell
