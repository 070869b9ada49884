"""LSTM cell with a recurrent projection layer (LSTMP; Sak et al., 2014), ``torch.nn.LSTM(proj_size=...)``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
from keras import constraints, initializers, ops, regularizers

from kerasrnn.layers.recurrent_cell import forget_bias_initializer
from kerasrnn.layers.tensor_types import Identifier, Shape, Tensor


def check_proj_size(owner: str, proj_size: Any, units: int) -> int:
    """``proj_size`` as torch.nn.LSTM takes it: an integer in ``[0, units)``; 0 means no projection."""
    if not isinstance(proj_size, int) or isinstance(proj_size, bool) or not 0 <= proj_size < units:
        raise ValueError(
            f"{owner}: `proj_size` must be an integer in [0, units) = [0, {units}) (0: no projection), "
            f"received proj_size={proj_size!r}."
        )
    return proj_size


@keras.saving.register_keras_serializable(package="kerasrnn")
class ProjectedLSTMCell(keras.layers.LSTMCell):
    r"""``keras.layers.LSTMCell`` whose output and recurrent state are projected to ``proj_size``.

    Sak, Senior & Beaufays, "Long Short-Term Memory Based Recurrent Neural
    Network Architectures for Large Vocabulary Speech Recognition" (2014), in
    ``torch.nn.LSTM(proj_size=p)``'s form (no peepholes, no separate output
    layer):

    .. math::

        i_t &= \sigma(x_t W_i + h_{t-1} U_i + b_i), \quad
        f_t = \sigma(x_t W_f + h_{t-1} U_f + b_f), \quad
        o_t = \sigma(x_t W_o + h_{t-1} U_o + b_o) \\
        c_t &= f_t \odot c_{t-1} + i_t \odot \tanh(x_t W_c + h_{t-1} U_c + b_c) \\
        h_t &= \big(o_t \odot \tanh(c_t)\big) P

    :math:`h` has ``proj_size`` entries, :math:`c` has ``units``; the
    recurrent kernel reads the projected :math:`h`. Everything else
    (arguments, dropout, ``implementation``) is ``keras.layers.LSTMCell``'s.

    Weights (gate order **i, f, c, o**, as Keras; PyTorch's i, f, g, o is the
    same order):

    * ``kernel``: ``(input_dim, 4 * units)`` = PyTorch's ``weight_ih`` transposed
    * ``recurrent_kernel``: ``(proj_size, 4 * units)`` = ``weight_hh`` transposed
    * ``bias``: ``(4 * units,)`` = ``bias_ih + bias_hh``
    * ``projection_kernel``: ``(units, proj_size)`` = :math:`P`, ``weight_hr`` transposed

    States ``[h, c]`` of sizes ``[proj_size, units]``; the output is ``h``
    (``output_size = proj_size``).

    Args:
        units: Width of the cell state :math:`c` and of the gates.
        proj_size: Width of the output and hidden state, ``0 < proj_size < units``
            (PyTorch's bounds).
        projection_initializer, projection_regularizer, projection_constraint:
            For ``projection_kernel``.
        **kwargs: ``keras.layers.LSTMCell``'s arguments.

    Example::

        cell = kerasrnn.layers.ProjectedLSTMCell(32, proj_size=8)
        y = keras.layers.RNN(cell)(keras.random.normal((4, 10, 16)))  # (4, 8)
    """

    def __init__(
        self,
        units: int,
        proj_size: int,
        projection_initializer: Identifier = "glorot_uniform",
        projection_regularizer: Identifier = None,
        projection_constraint: Identifier = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(units, **kwargs)
        check_proj_size(type(self).__name__, proj_size, units)
        if proj_size == 0:
            raise ValueError(f"{type(self).__name__}: `proj_size` must be positive; use keras.layers.LSTMCell for 0.")
        self.proj_size = proj_size
        self.projection_initializer = initializers.get(projection_initializer)
        self.projection_regularizer = regularizers.get(projection_regularizer)
        self.projection_constraint = constraints.get(projection_constraint)
        self.state_size = [proj_size, units]
        self.output_size = proj_size

    def build(self, input_shape: Shape) -> None:
        units = self.units
        self.kernel = self.add_weight(
            shape=(input_shape[-1], 4 * units),
            name="kernel",
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.recurrent_kernel = self.add_weight(
            shape=(self.proj_size, 4 * units),
            name="recurrent_kernel",
            initializer=self.recurrent_initializer,
            regularizer=self.recurrent_regularizer,
            constraint=self.recurrent_constraint,
        )
        self.bias = None
        if self.use_bias:
            bias_initializer = (
                forget_bias_initializer(self.bias_initializer, units, 4)
                if self.unit_forget_bias
                else self.bias_initializer
            )
            self.bias = self.add_weight(
                shape=(4 * units,),
                name="bias",
                initializer=bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )
        self.projection_kernel = self.add_weight(
            shape=(units, self.proj_size),
            name="projection_kernel",
            initializer=self.projection_initializer,
            regularizer=self.projection_regularizer,
            constraint=self.projection_constraint,
        )

    def call(self, inputs: Tensor, states: Sequence[Tensor], training: bool = False) -> tuple[Tensor, list[Tensor]]:
        unprojected, (_, c) = super().call(inputs, states, training=training)
        h = ops.matmul(unprojected, self.projection_kernel)
        return h, [h, c]

    def get_config(self) -> dict[str, Any]:
        config = {
            "proj_size": self.proj_size,
            "projection_initializer": initializers.serialize(self.projection_initializer),
            "projection_regularizer": regularizers.serialize(self.projection_regularizer),
            "projection_constraint": constraints.serialize(self.projection_constraint),
        }
        return {**super().get_config(), **config}
