"""Keras' LSTM and GRU layers with kerasrnn's backend fast paths tried first.

:class:`LSTM` and :class:`GRU` are ``keras.layers.LSTM`` and
``keras.layers.GRU`` (same arguments, weights, config and math); their only
change is the time loop. Before Keras' own (cuDNN on a GPU, else the generic
loop over the cell) they try :mod:`kerasrnn.backend`'s fused kernel for the
active backend, under the same conditions Keras puts on cuDNN: no recurrent
dropout, ``use_cudnn`` not ``False``, and a case the kernel implements (no
mask, tanh/sigmoid, ...). On the torch backend that is PyTorch's own
``nn.LSTM``/``nn.GRU`` kernel on CPU as well as CUDA.

:class:`LSTM` also takes ``proj_size`` (``torch.nn.LSTM``'s LSTM with
projection); see its docstring for how.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

import keras
from keras import ops, tree

from kerasrnn import backend as fast_paths
from kerasrnn.layers.projected_lstm_cell import ProjectedLSTMCell, check_proj_size
from kerasrnn.layers.tensor_types import Identifier, Tensor


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
        return self.keras_inner_loop(sequences, initial_state, mask, training=training)

    def keras_inner_loop(
        self,
        sequences: Tensor,
        initial_state: Tensor | Sequence[Tensor],
        mask: Tensor | Sequence[Tensor] | None,
        training: bool = False,
    ) -> tuple[Tensor, Tensor, Sequence[Tensor]]:
        """Keras' own loop for the layer (its cuDNN path first, then the generic loop)."""
        return super().inner_loop(sequences, initial_state, mask, training=training)


# keras.layers.LSTMCell's own arguments: what LSTM(proj_size > 0) hands to its ProjectedLSTMCell.
_LSTM_CELL_ARGUMENTS = (
    *(
        name
        for name, parameter in inspect.signature(keras.layers.LSTMCell.__init__).parameters.items()
        if name not in ("self", "units") and parameter.kind is not parameter.VAR_KEYWORD
    ),
    "implementation",
)


@keras.saving.register_keras_serializable(package="kerasrnn")
class LSTM(FusedKernelLoop, keras.layers.LSTM):
    """``keras.layers.LSTM``, plus the backend's fused kernel where Keras has none, plus ``proj_size``.

    Gate order of the fused ``kernel``/``recurrent_kernel``/``bias``: i, f, c, o.

    .. math::

        i_t = \\sigma(x_t W_i + h_{t-1} U_i + b_i), \\quad
        f_t = \\sigma(x_t W_f + h_{t-1} U_f + b_f), \\quad
        o_t = \\sigma(x_t W_o + h_{t-1} U_o + b_o)

        c_t = f_t \\odot c_{t-1} + i_t \\odot \\tanh(x_t W_c + h_{t-1} U_c + b_c),
        \\quad h_t = o_t \\odot \\tanh(c_t) \\; [\\, P \\,]

    Hochreiter & Schmidhuber (1997), with the forget gate of Gers et al. (2000).

    With ``proj_size=p > 0`` (``torch.nn.LSTM``'s argument; Sak et al. 2014,
    LSTMP) the output and the recurrent state are projected,
    :math:`h_t = (o_t \\odot \\tanh(c_t)) P` with ``projection_kernel``
    :math:`P` of shape ``(units, p)``: ``h`` has ``p`` entries, ``c`` has
    ``units``, the ``recurrent_kernel`` is ``(p, 4 * units)``, the states are
    ``[h, c]`` of sizes ``[p, units]``. ``0 <= proj_size < units`` as in
    PyTorch; 0 (the default) is the plain LSTM, with Keras' weights and config.

    How: ``keras.layers.LSTM`` builds a plain ``keras.layers.LSTMCell`` inside
    its constructor, with no way to hand it another cell. With ``proj_size > 0``
    this layer therefore builds a
    :class:`~kerasrnn.layers.projected_lstm_cell.ProjectedLSTMCell`
    (``keras.layers.LSTMCell`` plus the projection) and initializes as
    ``keras.layers.RNN`` over it, repeating what ``keras.layers.LSTM``'s
    constructor adds (``use_cudnn``, the input spec); every other method,
    property and config entry is ``keras.layers.LSTM``'s, reading the cell.
    Keras' cuDNN paths (TensorFlow, JAX) know no projection and are skipped;
    on the torch backend PyTorch's fused kernel takes the projection
    (``weight_hr``), else the generic loop runs the cell.

    Args:
        units: Width of the cell state (and of the output without projection).
        proj_size: Width of the projected output and hidden state; 0: none.
        projection_initializer, projection_regularizer, projection_constraint:
            For ``projection_kernel`` (only with ``proj_size > 0``).
        **kwargs: ``keras.layers.LSTM``'s arguments.
    """

    def __init__(
        self,
        units: int,
        proj_size: int = 0,
        projection_initializer: Identifier = "glorot_uniform",
        projection_regularizer: Identifier = None,
        projection_constraint: Identifier = None,
        **kwargs: Any,
    ) -> None:
        projection = dict(
            projection_initializer=keras.initializers.get(projection_initializer),
            projection_regularizer=keras.regularizers.get(projection_regularizer),
            projection_constraint=keras.constraints.get(projection_constraint),
        )
        if not proj_size:
            super().__init__(units, **kwargs)
        else:
            check_proj_size(type(self).__name__, proj_size, units)
            use_cudnn = kwargs.pop("use_cudnn", "auto")
            if use_cudnn not in ("auto", True, False):
                raise ValueError(f"LSTM: `use_cudnn` must be one of 'auto', True, False; received {use_cudnn!r}.")
            cell_kwargs = {name: kwargs.pop(name) for name in _LSTM_CELL_ARGUMENTS if name in kwargs}
            cell = ProjectedLSTMCell(
                units,
                proj_size,
                dtype=kwargs.get("dtype"),
                trainable=kwargs.get("trainable", True),
                name="lstm_cell",
                **projection,
                **cell_kwargs,
            )
            keras.layers.RNN.__init__(self, cell, **kwargs)  # not LSTM's: it would build a plain LSTMCell
            self.input_spec = keras.layers.InputSpec(ndim=3)
            self.use_cudnn = use_cudnn
        self.proj_size = proj_size
        for name, value in projection.items():
            setattr(self, name, value)

    def fused_kernel(
        self, sequences: Tensor, initial_state: list[Tensor], mask: Tensor | None
    ) -> tuple[Tensor, Tensor, list[Tensor]]:
        h, c = initial_state
        projection_kernel = self.cell.projection_kernel if self.proj_size else None
        return fast_paths.lstm(
            sequences, h, c, mask, projection_kernel=projection_kernel, **self.fused_kernel_arguments()
        )

    def keras_inner_loop(
        self,
        sequences: Tensor,
        initial_state: Tensor | Sequence[Tensor],
        mask: Tensor | Sequence[Tensor] | None,
        training: bool = False,
    ) -> tuple[Tensor, Tensor, Sequence[Tensor]]:
        if not self.proj_size:
            return super().keras_inner_loop(sequences, initial_state, mask, training=training)
        if self.use_cudnn is True:
            raise ValueError(
                f"LSTM: use_cudnn=True, but the {keras.backend.backend()} backend has no fused kernel for "
                f"proj_size={self.proj_size} in this configuration; pass use_cudnn='auto'."
            )
        mask = mask[0] if tree.is_nested(mask) else mask
        return keras.layers.RNN.inner_loop(self, sequences, initial_state, mask, training=training)

    def get_config(self) -> dict[str, Any]:
        config = {
            "proj_size": self.proj_size,
            "projection_initializer": keras.initializers.serialize(self.projection_initializer),
            "projection_regularizer": keras.regularizers.serialize(self.projection_regularizer),
            "projection_constraint": keras.constraints.serialize(self.projection_constraint),
        }
        return {**super().get_config(), **config}


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
