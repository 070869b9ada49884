"""Keras' LSTM and GRU layers with kerasrnn's backend fast paths tried first.

:class:`LSTM` and :class:`GRU` are ``keras.layers.LSTM`` and
``keras.layers.GRU`` (same arguments, weights, config and math); their only
change is the time loop. Before Keras' own (cuDNN on a GPU, else the generic
loop over the cell) they try :mod:`kerasrnn.backend`'s fused kernel for the
active backend, under the same conditions Keras puts on cuDNN: no recurrent
dropout, ``use_cudnn`` not ``False``, and a case the kernel implements (no
mask, tanh/sigmoid, ...). On the torch backend that is PyTorch's own
``nn.LSTM``/``nn.GRU`` kernel on CPU as well as CUDA.
"""

import keras
from keras import ops
from keras import tree

from kerasrnn import backend as fast_paths


def _dropped_sequences(layer, sequences, training):
    """The input dropout of a whole sequence, one mask for every step (as Keras)."""
    if training and layer.dropout:
        mask = layer.cell.get_dropout_mask(sequences[:, 0, :])
        return sequences * ops.expand_dims(mask, axis=1)
    return sequences


def _fast_path_allowed(layer):
    return layer.use_cudnn in ("auto", True) and not layer.recurrent_dropout


@keras.saving.register_keras_serializable(package="kerasrnn")
class LSTM(keras.layers.LSTM):
    """``keras.layers.LSTM``, plus the backend's fused kernel where Keras has none.

    Gate order of the fused ``kernel``/``recurrent_kernel``/``bias``: i, f, c, o.

    .. math::

        i_t = \\sigma(x_t W_i + h_{t-1} U_i + b_i), \\quad
        f_t = \\sigma(x_t W_f + h_{t-1} U_f + b_f), \\quad
        o_t = \\sigma(x_t W_o + h_{t-1} U_o + b_o)

        c_t = f_t \\odot c_{t-1} + i_t \\odot \\tanh(x_t W_c + h_{t-1} U_c + b_c),
        \\quad h_t = o_t \\odot \\tanh(c_t)

    Hochreiter & Schmidhuber (1997), with the forget gate of Gers et al. (2000).
    """

    def inner_loop(self, sequences, initial_state, mask, training=False):
        if _fast_path_allowed(self):
            try:
                return fast_paths.lstm(
                    _dropped_sequences(self, sequences, training),
                    initial_state[0],
                    initial_state[1],
                    mask[0] if tree.is_nested(mask) else mask,
                    kernel=self.cell.kernel,
                    recurrent_kernel=self.cell.recurrent_kernel,
                    bias=self.cell.bias,
                    activation=self.cell.activation,
                    recurrent_activation=self.cell.recurrent_activation,
                    return_sequences=self.return_sequences,
                    go_backwards=self.go_backwards,
                    unroll=self.unroll,
                )
            except NotImplementedError:
                pass
        return super().inner_loop(sequences, initial_state, mask, training=training)


@keras.saving.register_keras_serializable(package="kerasrnn")
class GRU(keras.layers.GRU):
    """``keras.layers.GRU``, plus the backend's fused kernel where Keras has none.

    Gate order of the fused weights: z (update), r (reset), h (candidate).
    ``reset_after=True`` (the cuDNN/PyTorch form, Keras' default)

    .. math::

        z_t = \\sigma(x_t W_z + b^x_z + h_{t-1} U_z + b^h_z), \\quad
        r_t = \\sigma(x_t W_r + b^x_r + h_{t-1} U_r + b^h_r)

        \\tilde h_t = \\tanh(x_t W_h + b^x_h + r_t \\odot (h_{t-1} U_h + b^h_h)),
        \\quad h_t = z_t \\odot h_{t-1} + (1 - z_t) \\odot \\tilde h_t

    and ``reset_after=False`` (Cho et al., 2014, no fused kernel anywhere):
    :math:`\\tilde h_t = \\tanh(x_t W_h + (r_t \\odot h_{t-1}) U_h + b_h)`.
    """

    def inner_loop(self, sequences, initial_state, mask, training=False):
        if _fast_path_allowed(self):
            try:
                return fast_paths.gru(
                    _dropped_sequences(self, sequences, training),
                    initial_state[0] if tree.is_nested(initial_state) else initial_state,
                    mask[0] if tree.is_nested(mask) else mask,
                    kernel=self.cell.kernel,
                    recurrent_kernel=self.cell.recurrent_kernel,
                    bias=self.cell.bias,
                    activation=self.cell.activation,
                    recurrent_activation=self.cell.recurrent_activation,
                    return_sequences=self.return_sequences,
                    go_backwards=self.go_backwards,
                    unroll=self.unroll,
                    reset_after=self.cell.reset_after,
                )
            except NotImplementedError:
                pass
        return super().inner_loop(sequences, initial_state, mask, training=training)
