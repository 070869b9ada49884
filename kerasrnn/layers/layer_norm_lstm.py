"""Layer-normalized LSTM (Ba, Kiros & Hinton, 2016), as tensorflow-addons had it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
from keras import initializers, ops

from kerasrnn import backend as fast_paths
from kerasrnn.layers.cell_rnn import CellRNN
from kerasrnn.layers.recurrent_cell import RecurrentCell
from kerasrnn.layers.tensor_types import Identifier, Shape, Tensor


def layer_norm(x: Tensor, gamma: Tensor, beta: Tensor, epsilon: float) -> Tensor:
    """Layer normalization over the last axis: the backend's fused kernel, else :func:`reference_layer_norm`."""
    try:
        return fast_paths.layer_norm(x, gamma, beta, epsilon)
    except NotImplementedError:
        return reference_layer_norm(x, gamma, beta, epsilon)


def reference_layer_norm(x: Tensor, gamma: Tensor, beta: Tensor, epsilon: float) -> Tensor:
    """Layer normalization over the last axis, computed in at least float32."""
    dtype = x.dtype
    low_precision = keras.backend.standardize_dtype(dtype) in ("float16", "bfloat16")
    compute_dtype = "float32" if low_precision else dtype
    x = ops.cast(x, compute_dtype)
    mean = ops.mean(x, axis=-1, keepdims=True)
    # Not ops.var, which computes float64 inputs in float32 on JAX and torch.
    variance = ops.mean(ops.square(x - mean), axis=-1, keepdims=True)
    normed = (x - mean) * ops.rsqrt(variance + epsilon)
    normed = normed * ops.cast(gamma, compute_dtype) + ops.cast(beta, compute_dtype)
    return ops.cast(normed, dtype)


@keras.saving.register_keras_serializable(package="kerasrnn")
class LayerNormLSTMCell(RecurrentCell):
    r"""LSTM cell with layer normalization.

    Ba, Kiros & Hinton, "Layer Normalization" (2016), in the form of
    tensorflow-addons' ``LayerNormLSTMCell``: the input and the recurrent
    projections of all four gates are each normalized (jointly over the
    ``4 * units`` features), and so is the new cell state, which is carried
    normalized:

    .. math::

        z_t &= \mathrm{LN}_x(W x_t) + \mathrm{LN}_h(U h_{t-1}) + b
              = [z_i, z_f, z_c, z_o] \\
        i_t &= \sigma(z_i), \quad f_t = \sigma(z_f), \quad o_t = \sigma(z_o) \\
        c_t &= \mathrm{LN}_c\big(f_t \odot c_{t-1} + i_t \odot \tanh(z_c)\big) \\
        h_t &= o_t \odot \tanh(c_t)

    with :math:`\mathrm{LN}(v) = \gamma \odot (v - \mu(v)) / \sqrt{\sigma^2(v)
    + \epsilon} + \beta`, mean and variance taken over the feature axis.

    Weights (gate order **i, f, c, o**):

    * ``kernel``: ``(input_dim, 4 * units)``; ``recurrent_kernel``:
      ``(units, 4 * units)``; ``bias``: ``(4 * units,)`` (forget part starts
      at 1 when ``unit_forget_bias``)
    * ``kernel_norm_gamma``, ``kernel_norm_beta``,
      ``recurrent_norm_gamma``, ``recurrent_norm_beta``: ``(4 * units,)``
    * ``state_norm_gamma``, ``state_norm_beta``: ``(units,)``

    States: ``[h, c]``; the output is ``h``.

    Args:
        units: Dimensionality of the state.
        unit_forget_bias: Start the forget-gate bias at 1.
        norm_gamma_initializer, norm_beta_initializer: Initializers of the
            normalizations' scale (default ones) and shift (default zeros).
        norm_epsilon: The :math:`\epsilon` of the normalizations (default
            1e-3, as tensorflow-addons).
        **kwargs: See :class:`~kerasrnn.layers.recurrent_cell.RecurrentCell`.

    Example::

        layer = keras.layers.RNN(kerasrnn.layers.LayerNormLSTMCell(32))
    """

    def __init__(
        self,
        units: int,
        unit_forget_bias: bool = True,
        norm_gamma_initializer: Identifier = "ones",
        norm_beta_initializer: Identifier = "zeros",
        norm_epsilon: float = 1e-3,
        **kwargs: Any,
    ) -> None:
        super().__init__(units, **kwargs)
        self.unit_forget_bias = unit_forget_bias
        self.norm_gamma_initializer = initializers.get(norm_gamma_initializer)
        self.norm_beta_initializer = initializers.get(norm_beta_initializer)
        self.norm_epsilon = float(norm_epsilon)
        self.state_size = [units, units]

    def build(self, input_shape: Shape) -> None:
        input_dim = self.input_dim_of(input_shape)
        units = self.units
        self.kernel = self.add_kernel(input_dim, 4 * units)
        self.recurrent_kernel = self.add_recurrent_kernel(4 * units)
        self.bias = self.add_lstm_bias(self.unit_forget_bias)
        for norm, width in (("kernel_norm", 4 * units), ("recurrent_norm", 4 * units), ("state_norm", units)):
            setattr(
                self,
                f"{norm}_gamma",
                self.add_weight(shape=(width,), name=f"{norm}_gamma", initializer=self.norm_gamma_initializer),
            )
            setattr(
                self,
                f"{norm}_beta",
                self.add_weight(shape=(width,), name=f"{norm}_beta", initializer=self.norm_beta_initializer),
            )

    def project_inputs(self, inputs: Tensor) -> Tensor:
        z = layer_norm(
            ops.matmul(inputs, self.kernel), self.kernel_norm_gamma, self.kernel_norm_beta, self.norm_epsilon
        )
        return z + self.bias if self.use_bias else z

    def recurrent_step(
        self, projected: Tensor, states: Sequence[Tensor], training: bool = False
    ) -> tuple[Tensor, list[Tensor]]:
        h_tm1, c_tm1 = states
        h = self.dropped_state(h_tm1, training)
        eps = self.norm_epsilon
        z = projected + layer_norm(
            ops.matmul(h, self.recurrent_kernel), self.recurrent_norm_gamma, self.recurrent_norm_beta, eps
        )
        z_i, z_f, z_c, z_o = ops.split(z, 4, axis=-1)
        i = self.recurrent_activation(z_i)
        f = self.recurrent_activation(z_f)
        o = self.recurrent_activation(z_o)
        c = f * c_tm1 + i * self.activation(z_c)
        c = layer_norm(c, self.state_norm_gamma, self.state_norm_beta, eps)
        h = o * self.activation(c)
        return h, [h, c]

    def get_config(self) -> dict[str, Any]:
        config = {
            "unit_forget_bias": self.unit_forget_bias,
            "norm_gamma_initializer": initializers.serialize(self.norm_gamma_initializer),
            "norm_beta_initializer": initializers.serialize(self.norm_beta_initializer),
            "norm_epsilon": self.norm_epsilon,
        }
        return {**super().get_config(), **config}


@keras.saving.register_keras_serializable(package="kerasrnn")
class LayerNormLSTM(CellRNN):
    """Layer-normalized LSTM layer: ``keras.layers.RNN(LayerNormLSTMCell(...))``.

    Example::

        layer = kerasrnn.layers.LayerNormLSTM(64)
        y = layer(keras.random.normal((8, 20, 16)))  # (8, 64)
    """

    cell_class = LayerNormLSTMCell

    def whole_sequence(
        self, sequences: Tensor, initial_state: Sequence[Tensor], mask: Tensor | None, training: bool
    ) -> tuple[Tensor, Tensor, Sequence[Tensor]]:
        cell = self.cell
        return fast_paths.layer_norm_lstm(
            sequences,
            initial_state[0],
            initial_state[1],
            mask,
            recurrent_kernel=cell.recurrent_kernel,
            recurrent_norm_gamma=cell.recurrent_norm_gamma,
            recurrent_norm_beta=cell.recurrent_norm_beta,
            state_norm_gamma=cell.state_norm_gamma,
            state_norm_beta=cell.state_norm_beta,
            epsilon=cell.norm_epsilon,
            activation=cell.activation,
            recurrent_activation=cell.recurrent_activation,
            **self.sequence_options(training),
        )
