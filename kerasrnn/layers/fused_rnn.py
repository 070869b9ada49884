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

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
from keras import ops, tree

from kerasrnn import backend as fast_paths
from kerasrnn.layers.tensor_types import Tensor


class FusedKernelLoop:
    """Mixin for a Keras LSTM/GRU subclass: try ``fused_kernel`` before Keras' own loop.

    Keras' conditions for cuDNN apply: ``use_cudnn`` not ``False`` and no
    recurrent dropout. Input dropout is applied to the whole sequence with
    the cell's mask (one per sequence, as Keras' loop does at every step).
    """

    def fused_kernel(
        self, sequences: Tensor, initial_state: list[Tensor], mask: Tensor | None
    ) -> tuple[Tensor, Tensor, list[Tensor]]:
        """The backend function for this layer; raises ``NotImplementedError`` to fall back."""
        raise NotImplementedError

    def fused_kernel_arguments(self) -> dict[str, Any]:
        """The weights and options every ``kerasrnn.backend`` recurrence takes."""
        cell = self.cell
        return dict(
            kernel=cell.kernel,
            recurrent_kernel=cell.recurrent_kernel,
            bias=cell.bias,
            activation=cell.activation,
            recurrent_activation=cell.recurrent_activation,
            return_sequences=self.return_sequences,
            go_backwards=self.go_backwards,
            unroll=self.unroll,
        )

    def inner_loop(
        self,
        sequences: Tensor,
        initial_state: Tensor | Sequence[Tensor],
        mask: Tensor | Sequence[Tensor] | None,
        training: bool = False,
    ) -> tuple[Tensor, Tensor, Sequence[Tensor]]:
        if self.use_cudnn in ("auto", True) and not self.recurrent_dropout:
            if training and self.dropout:
                dropout_mask = self.cell.get_dropout_mask(sequences[:, 0, :])
                dropped = sequences * ops.expand_dims(dropout_mask, axis=1)
            else:
                dropped = sequences
            try:
                return self.fused_kernel(
                    dropped,
                    list(initial_state) if tree.is_nested(initial_state) else [initial_state],
                    mask[0] if tree.is_nested(mask) else mask,
                )
            except NotImplementedError:
                pass
        return super().inner_loop(sequences, initial_state, mask, training=training)


@keras.saving.register_keras_serializable(package="kerasrnn")
class LSTM(FusedKernelLoop, keras.layers.LSTM):
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

    def fused_kernel(
        self, sequences: Tensor, initial_state: list[Tensor], mask: Tensor | None
    ) -> tuple[Tensor, Tensor, list[Tensor]]:
        h, c = initial_state
        return fast_paths.lstm(sequences, h, c, mask, **self.fused_kernel_arguments())


@keras.saving.register_keras_serializable(package="kerasrnn")
class GRU(FusedKernelLoop, keras.layers.GRU):
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

    def fused_kernel(
        self, sequences: Tensor, initial_state: list[Tensor], mask: Tensor | None
    ) -> tuple[Tensor, Tensor, list[Tensor]]:
        return fast_paths.gru(
            sequences, initial_state[0], mask, reset_after=self.cell.reset_after, **self.fused_kernel_arguments()
        )
