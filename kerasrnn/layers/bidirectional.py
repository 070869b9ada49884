"""``Bidirectional``: Keras' wrapper, with both directions in one fused call where a backend has one."""

import keras
from keras import ops

from kerasrnn import backend as fast_paths
from kerasrnn.layers.fused_rnn import GRU
from kerasrnn.layers.fused_rnn import LSTM


@keras.saving.register_keras_serializable(package="kerasrnn")
class Bidirectional(keras.layers.Bidirectional):
    """``keras.layers.Bidirectional`` (same arguments, weights and config), fused where it can be.

    When both directions are kerasrnn :class:`~kerasrnn.layers.LSTM` layers,
    or both :class:`~kerasrnn.layers.GRU` layers with ``reset_after=True``,
    and the case is one a fused kernel implements (no mask, not stateful,
    no dropout, ``use_cudnn`` not ``False``, tanh/sigmoid, biases), it first
    tries ``kerasrnn.backend.bidirectional_lstm`` / ``bidirectional_gru``:
    both directions in one native call (on the torch backend
    ``torch._VF.lstm(..., bidirectional=True)``, oneDNN on CPU, cuDNN on
    CUDA, where Keras 3.15 fuses the directions on CUDA only). Otherwise,
    or when the backend has no such kernel, it is Keras' layer: the forward
    layer, then the backward one.

    The math is the one of the two layers: the output at time :math:`t` is
    ``merge(forward_t, backward_t)``, the backward direction having read the
    sequence from its end down to :math:`t`; without ``return_sequences``
    it merges the two final states.
    """

    def call(self, sequences, initial_state=None, mask=None, training=None):
        kind = self._fused_kind(mask, initial_state, training)
        if kind is not None:
            try:
                return self._call_fused(kind, sequences, initial_state)
            except NotImplementedError:
                pass
        return super().call(sequences, initial_state=initial_state, mask=mask, training=training)

    def _fused_kind(self, mask, initial_state, training):
        """``"lstm"``, ``"gru"`` or ``None``: whether a fused call may be tried."""
        fwd, bwd = self.forward_layer, self.backward_layer
        if mask is not None or self.stateful or not (fwd.built and bwd.built):
            return None
        if isinstance(fwd, LSTM) and isinstance(bwd, LSTM):
            kind, states = "lstm", 4
        elif isinstance(fwd, GRU) and isinstance(bwd, GRU) and fwd.cell.reset_after and bwd.cell.reset_after:
            kind, states = "gru", 2
        else:
            return None
        if initial_state is not None and len(initial_state) != states:
            return None
        for layer in (fwd, bwd):
            cell = layer.cell
            if layer.use_cudnn not in ("auto", True) or cell.recurrent_dropout or not cell.use_bias:
                return None
            if cell.dropout and training:
                return None
        same = (
            fwd.cell.units == bwd.cell.units
            and fwd.cell.activation is bwd.cell.activation
            and fwd.cell.recurrent_activation is bwd.cell.recurrent_activation
            and fwd.unroll == bwd.unroll
            and not fwd.go_backwards
            and bwd.go_backwards
        )
        return kind if same else None

    def _call_fused(self, kind, sequences, initial_state):
        fwd, bwd = self.forward_layer.cell, self.backward_layer.cell
        sequences = ops.convert_to_tensor(sequences)
        if initial_state is None:
            zeros = ops.zeros((ops.shape(sequences)[0], fwd.units), dtype=sequences.dtype)
            initial_state = [zeros] * (4 if kind == "lstm" else 2)
        weights = dict(
            fwd_kernel=fwd.kernel,
            fwd_recurrent_kernel=fwd.recurrent_kernel,
            fwd_bias=fwd.bias,
            bwd_kernel=bwd.kernel,
            bwd_recurrent_kernel=bwd.recurrent_kernel,
            bwd_bias=bwd.bias,
            activation=fwd.activation,
            recurrent_activation=fwd.recurrent_activation,
            return_sequences=self.return_sequences,
            unroll=self.forward_layer.unroll,
        )
        if kind == "lstm":
            fwd_out, bwd_out = fast_paths.bidirectional_lstm(sequences, *initial_state, mask=None, **weights)
        else:
            fwd_out, bwd_out = fast_paths.bidirectional_gru(sequences, *initial_state, mask=None, **weights)
        (fwd_last, fwd_seq, fwd_states), (bwd_last, bwd_seq, bwd_states) = fwd_out, bwd_out
        # The backward outputs already come in the original time order.
        y, y_rev = (fwd_seq, bwd_seq) if self.return_sequences else (fwd_last, bwd_last)
        output = self._merge(ops.cast(y, self.compute_dtype), ops.cast(y_rev, self.compute_dtype))
        if not self.return_state:
            return output
        states = tuple(fwd_states) + tuple(bwd_states)
        return (output if self.merge_mode is None else (output,)) + states

    def _merge(self, y, y_rev):
        if self.merge_mode == "concat":
            return ops.concatenate([y, y_rev], axis=-1)
        if self.merge_mode == "sum":
            return y + y_rev
        if self.merge_mode == "ave":
            return (y + y_rev) / 2
        if self.merge_mode == "mul":
            return y * y_rev
        return (y, y_rev)  # merge_mode None
