"""Layer-normalized GRU (Ba, Kiros & Hinton, 2016), reset-after form."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
from keras import initializers, ops

from kerasrnn import backend as fast_paths
from kerasrnn.layers.cell_rnn import CellRNN
from kerasrnn.layers.layer_norm_lstm import layer_norm
from kerasrnn.layers.recurrent_cell import RecurrentCell
from kerasrnn.layers.tensor_types import Identifier, Shape, Tensor


@keras.saving.register_keras_serializable(package="kerasrnn")
class LayerNormGRUCell(RecurrentCell):
    r"""GRU cell with layer normalization, reset gate applied after the recurrent product.

    Layer normalization (Ba, Kiros & Hinton, "Layer Normalization", 2016,
    arXiv:1607.06450) applied to the GRU as the authors' own LN-GRU does it
    (``lngru_layer`` in github.com/ryankiros/layer-norm, their code for the
    paper): the input and the recurrent pre-activations are normalized
    separately, and each of them per gate group: the two gates
    :math:`(z, r)` jointly (``2 * units`` features) and the candidate
    :math:`\tilde h` on its own (``units`` features). As in
    :class:`~kerasrnn.layers.LayerNormLSTMCell` (tensorflow-addons' form),
    the bias is added after the normalizations:

    .. math::

        [a_z, a_r] &= \mathrm{LN}^{zr}_x(W_{zr} x_t)
                      + \mathrm{LN}^{zr}_h(U_{zr} h_{t-1}) + b_{zr} \\
        z_t &= \sigma(a_z), \quad r_t = \sigma(a_r) \\
        \tilde h_t &= \tanh\big(\mathrm{LN}^{h}_x(W_h x_t)
                      + r_t \odot \mathrm{LN}^{h}_h(U_h h_{t-1}) + b_h\big) \\
        h_t &= z_t \odot h_{t-1} + (1 - z_t) \odot \tilde h_t

    with :math:`\mathrm{LN}(v) = \gamma \odot (v - \mu(v)) / \sqrt{\sigma^2(v)
    + \epsilon} + \beta`, mean and (biased) variance over the group's
    features. The four normalized sums are :math:`W_{zr} x_t` and
    :math:`W_h x_t` (input), :math:`U_{zr} h_{t-1}` and :math:`U_h h_{t-1}`
    (recurrent).

    **Reset-after form** (the cuDNN / PyTorch GRU, Keras'
    ``reset_after=True``; also the form of Ba et al.'s LN-GRU): the reset
    gate scales the normalized recurrent product :math:`U_h h_{t-1}` rather
    than :math:`h_{t-1}` before the product (Cho et al., 2014). So one fused
    product :math:`h_{t-1} U` serves all three groups per step. The update
    rule is Keras' (:math:`z` keeps the old state).

    Weights (gate order **z, r, h**, as ``keras.layers.GRUCell``):

    * ``kernel``: ``(input_dim, 3 * units)`` = :math:`[W_z, W_r, W_h]`
    * ``recurrent_kernel``: ``(units, 3 * units)`` = :math:`[U_z, U_r, U_h]`
    * ``bias``: ``(3 * units,)`` = :math:`[b_z, b_r, b_h]`
    * ``kernel_norm_gamma``, ``kernel_norm_beta``, ``recurrent_norm_gamma``,
      ``recurrent_norm_beta``: ``(3 * units,)`` each, in the same order; the
      first ``2 * units`` entries belong to the gates' normalization, the
      last ``units`` to the candidate's.

    States: ``[h]``; the output is ``h``.

    Args:
        units: Dimensionality of the state.
        norm_gamma_initializer, norm_beta_initializer: Initializers of the
            normalizations' scale (default ones) and shift (default zeros).
        norm_epsilon: The :math:`\epsilon` of the normalizations (default
            1e-3, as :class:`~kerasrnn.layers.LayerNormLSTMCell`; Ba et al.'s
            code used 1e-5).
        **kwargs: See :class:`~kerasrnn.layers.recurrent_cell.RecurrentCell`
            (``activation`` of the candidate, ``recurrent_activation`` of the
            gates, initializers, regularizers, constraints, dropout,
            recurrent_dropout, seed).

    Example::

        layer = keras.layers.RNN(kerasrnn.layers.LayerNormGRUCell(32))
    """

    def __init__(
        self,
        units: int,
        norm_gamma_initializer: Identifier = "ones",
        norm_beta_initializer: Identifier = "zeros",
        norm_epsilon: float = 1e-3,
        **kwargs: Any,
    ) -> None:
        super().__init__(units, **kwargs)
        self.norm_gamma_initializer = initializers.get(norm_gamma_initializer)
        self.norm_beta_initializer = initializers.get(norm_beta_initializer)
        self.norm_epsilon = float(norm_epsilon)

    def build(self, input_shape: Shape) -> None:
        input_dim = self.input_dim_of(input_shape)
        units = self.units
        self.kernel = self.add_kernel(input_dim, 3 * units)
        self.recurrent_kernel = self.add_recurrent_kernel(3 * units)
        self.bias = self.add_bias(3 * units)
        for norm in ("kernel_norm", "recurrent_norm"):
            setattr(
                self,
                f"{norm}_gamma",
                self.add_weight(shape=(3 * units,), name=f"{norm}_gamma", initializer=self.norm_gamma_initializer),
            )
            setattr(
                self,
                f"{norm}_beta",
                self.add_weight(shape=(3 * units,), name=f"{norm}_beta", initializer=self.norm_beta_initializer),
            )

    def _grouped_norm(self, v: Tensor, gamma: Tensor, beta: Tensor) -> tuple[Tensor, Tensor]:
        """``(LN of the gates' 2u features, LN of the candidate's u features)`` of a ``3u`` vector."""
        split = 2 * self.units
        eps = self.norm_epsilon
        gates = layer_norm(v[..., :split], gamma[:split], beta[:split], eps)
        candidate = layer_norm(v[..., split:], gamma[split:], beta[split:], eps)
        return gates, candidate

    def project_inputs(self, inputs: Tensor) -> Tensor:
        gates, candidate = self._grouped_norm(
            ops.matmul(inputs, self.kernel), self.kernel_norm_gamma, self.kernel_norm_beta
        )
        z = ops.concatenate([gates, candidate], axis=-1)
        return z + self.bias if self.use_bias else z

    def recurrent_step(
        self, projected: Tensor, states: Sequence[Tensor], training: bool = False
    ) -> tuple[Tensor, list[Tensor]]:
        (h_tm1,) = states
        h = self.dropped_state(h_tm1, training)
        rec_gates, rec_candidate = self._grouped_norm(
            ops.matmul(h, self.recurrent_kernel), self.recurrent_norm_gamma, self.recurrent_norm_beta
        )
        split = 2 * self.units
        gates = self.recurrent_activation(projected[..., :split] + rec_gates)
        z, r = ops.split(gates, 2, axis=-1)
        candidate = self.activation(projected[..., split:] + r * rec_candidate)
        h = z * h_tm1 + (1.0 - z) * candidate
        return h, [h]

    def get_config(self) -> dict[str, Any]:
        config = {
            "norm_gamma_initializer": initializers.serialize(self.norm_gamma_initializer),
            "norm_beta_initializer": initializers.serialize(self.norm_beta_initializer),
            "norm_epsilon": self.norm_epsilon,
        }
        return {**super().get_config(), **config}


@keras.saving.register_keras_serializable(package="kerasrnn")
class LayerNormGRU(CellRNN):
    """Layer-normalized GRU layer: ``keras.layers.RNN(LayerNormGRUCell(...))``.

    Takes every :class:`LayerNormGRUCell` argument and the
    ``keras.layers.RNN`` arguments (``return_sequences``, ``return_state``,
    ``go_backwards``, ``stateful``, ``unroll``).

    Example::

        layer = kerasrnn.layers.LayerNormGRU(64, return_sequences=True)
        y = layer(keras.random.normal((8, 20, 16)))  # (8, 20, 64)
    """

    cell_class = LayerNormGRUCell

    def whole_sequence(
        self, sequences: Tensor, initial_state: Sequence[Tensor], mask: Tensor | None, training: bool
    ) -> tuple[Tensor, Tensor, Sequence[Tensor]]:
        cell = self.cell
        return fast_paths.layer_norm_gru(
            sequences,
            initial_state[0],
            mask,
            recurrent_kernel=cell.recurrent_kernel,
            recurrent_norm_gamma=cell.recurrent_norm_gamma,
            recurrent_norm_beta=cell.recurrent_norm_beta,
            epsilon=cell.norm_epsilon,
            activation=cell.activation,
            recurrent_activation=cell.recurrent_activation,
            **self.sequence_options(training),
        )
