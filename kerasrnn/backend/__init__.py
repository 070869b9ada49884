"""Backend fast paths for kerasrnn's layers, kept apart from the cells' math.

The layout follows Keras' own ``keras/src/backend/<name>/rnn.py``: for each
Keras backend that has a fused kernel for some cell, ``<name>/rnn.py``
implements it; every function here raises ``NotImplementedError`` when the
active backend (or the case at hand: a mask, a non-standard activation, an
unsupported dtype) has none, and the calling layer then runs its generic
loop over the cell's own step. The generic loop is the reference: the tests
run both on the same weights and compare outputs, states and gradients.

Only backend modules that exist are imported, and only when first called,
so ``import kerasrnn`` never imports a framework it does not use.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any

import keras

if TYPE_CHECKING:
    from kerasrnn.layers.tensor_types import Tensor

# Keras backend name -> {kind of fast path: module holding it}.
_FAST_PATH_MODULES = {
    "torch": {
        "rnn": "kerasrnn.backend.torch.rnn",
        "nn": "kerasrnn.backend.torch.nn",
        "sequence_cells": "kerasrnn.backend.torch.sequence_cells",
    },
    "jax": {"nn": "kerasrnn.backend.jax.nn"},
    "tensorflow": {"nn": "kerasrnn.backend.tensorflow.nn"},
}


def _fast_paths(kind: str) -> ModuleType:
    name = _FAST_PATH_MODULES.get(keras.backend.backend(), {}).get(kind)
    if name is None:
        raise NotImplementedError
    return importlib.import_module(name)


def _fast_path(kind: str, name: str) -> Any:
    """The backend's function ``name`` of ``kind``; ``NotImplementedError`` where its module has none."""
    function = getattr(_fast_paths(kind), name, None)
    if function is None:
        raise NotImplementedError
    return function


def lstm(*args: Any, **kwargs: Any) -> tuple[Tensor, Tensor, list[Tensor]]:
    """A fused LSTM over a whole sequence; see ``kerasrnn.backend.torch.rnn.lstm``."""
    return _fast_path("rnn", "lstm")(*args, **kwargs)


def gru(*args: Any, **kwargs: Any) -> tuple[Tensor, Tensor, list[Tensor]]:
    """A fused GRU over a whole sequence; see ``kerasrnn.backend.torch.rnn.gru``."""
    return _fast_path("rnn", "gru")(*args, **kwargs)


def rnn(*args: Any, **kwargs: Any) -> tuple[Tensor, Tensor, Sequence[Tensor]]:
    """Keras' ``backend.rnn`` loop, leaner; see ``kerasrnn.backend.torch.rnn.rnn``."""
    return _fast_path("rnn", "rnn")(*args, **kwargs)


def layer_norm(x: Tensor, gamma: Tensor, beta: Tensor, epsilon: float) -> Tensor:
    """Layer normalization over the last axis: fused on torch (``kerasrnn.backend.torch.nn``), a hand-written
    gradient on JAX and TensorFlow (``kerasrnn.backend.jax.nn``, ``kerasrnn.backend.tensorflow.nn``)."""
    return _fast_path("nn", "layer_norm")(x, gamma, beta, epsilon)


def affine(x: Tensor, kernel: Tensor, bias: Tensor | None) -> Tensor:
    """``x @ kernel + bias`` over the last axis of ``x`` (any leading axes); ``bias`` may be ``None``.

    A cell's input projection. On torch one ``addmm`` (the bias added inside
    the matrix product, ``kerasrnn.backend.torch.nn.affine``) instead of a
    product and a separate pass that adds the bias into a fresh tensor;
    elsewhere, and where that does not apply, ``keras.ops``.
    """
    if bias is not None:
        try:
            return _fast_path("nn", "affine")(x, kernel, bias)
        except NotImplementedError:
            pass
    z = keras.ops.matmul(x, kernel)
    return z if bias is None else z + bias


def per_axis(value: int | Sequence[int], rank: int) -> tuple[int, ...]:
    """A convolution's ``strides`` or ``dilation_rate`` as one int per spatial axis, for the backends'
    ``convolution``; ``NotImplementedError`` (so ``keras.ops.conv``) when a sequence has the wrong length."""
    values = (value,) * rank if isinstance(value, int) else tuple(value)
    if len(values) != rank:
        raise NotImplementedError
    return values


def convolution(
    frames: Tensor,
    kernel: Tensor,
    bias: Tensor | None,
    strides: Sequence[int],
    padding: str,
    data_format: str,
    dilation_rate: Sequence[int],
) -> Tensor:
    """``keras.ops.conv`` of ``frames`` ``(n, *spatial, channels)`` plus ``bias``; a ConvLSTM's convolutions.

    On torch, channels last: one oneDNN convolution reading and writing
    channels-last memory with the bias inside, where ``keras.ops.conv``
    copies the frames into channels first and its result back, and adding the
    bias is another pass (``kerasrnn.backend.torch.nn.convolution``); on
    JAX, one matmul over the frames' patches, which XLA's CPU runs several
    times faster than its convolution inside a scan
    (``kerasrnn.backend.jax.nn.convolution``); elsewhere, and where that does
    not apply, ``keras.ops``.
    """
    try:
        return _fast_path("nn", "convolution")(frames, kernel, bias, strides, padding, data_format, dilation_rate)
    except NotImplementedError:
        pass
    z = keras.ops.conv(
        frames, kernel, strides=strides, padding=padding, data_format=data_format, dilation_rate=dilation_rate
    )
    if bias is None:
        return z
    rank = len(z.shape) - 2
    shape = (1,) * (rank + 1) + (-1,) if data_format == "channels_last" else (1, -1) + (1,) * rank
    return z + keras.ops.reshape(bias, shape)


def peephole_lstm(*args: Any, **kwargs: Any) -> tuple[Tensor, Tensor, list[Tensor]]:
    """The peephole LSTM over a whole sequence; see ``kerasrnn.backend.torch.sequence_cells.peephole_lstm``."""
    return _fast_path("sequence_cells", "peephole_lstm")(*args, **kwargs)


def layer_norm_lstm(*args: Any, **kwargs: Any) -> tuple[Tensor, Tensor, list[Tensor]]:
    """The layer-normalized LSTM over a whole sequence; see ``kerasrnn.backend.torch.sequence_cells``."""
    return _fast_path("sequence_cells", "layer_norm_lstm")(*args, **kwargs)


def reset_before_rnn(*args: Any, **kwargs: Any) -> tuple[Tensor, Tensor, list[Tensor]]:
    """A GRU-family cell with the reset before its candidate's matmul (Cho's GRU, MUT1-3) over a whole sequence;
    see ``kerasrnn.backend.torch.sequence_cells.reset_before_rnn``."""
    return _fast_path("sequence_cells", "reset_before_rnn")(*args, **kwargs)


def ind_rnn(*args: Any, **kwargs: Any) -> tuple[Tensor, Tensor, list[Tensor]]:
    """IndRNN over a whole sequence; see ``kerasrnn.backend.torch.sequence_cells.ind_rnn``."""
    return _fast_path("sequence_cells", "ind_rnn")(*args, **kwargs)


def layer_norm_gru(*args: Any, **kwargs: Any) -> tuple[Tensor, Tensor, list[Tensor]]:
    """The layer-normalized GRU over a whole sequence; see ``kerasrnn.backend.torch.sequence_cells``."""
    return _fast_path("sequence_cells", "layer_norm_gru")(*args, **kwargs)


def layer_norm_simple_rnn(*args: Any, **kwargs: Any) -> tuple[Tensor, Tensor, list[Tensor]]:
    """The layer-normalized simple RNN over a whole sequence; see ``kerasrnn.backend.torch.sequence_cells``."""
    return _fast_path("sequence_cells", "layer_norm_simple_rnn")(*args, **kwargs)


def conv_lstm(*args: Any, **kwargs: Any) -> tuple[Tensor, Tensor, list[Tensor]]:
    """The convolutional LSTM over a whole frame sequence; see ``kerasrnn.backend.torch.sequence_cells``."""
    return _fast_path("sequence_cells", "conv_lstm")(*args, **kwargs)


def nas(*args: Any, **kwargs: Any) -> tuple[Tensor, Tensor, list[Tensor]]:
    """The NAS cell over a whole sequence; see ``kerasrnn.backend.torch.sequence_cells.nas``."""
    return _fast_path("sequence_cells", "nas")(*args, **kwargs)


def linear_recurrence(*args: Any, **kwargs: Any) -> Tensor:
    """Every state of ``h_t = a_t h_{t-1} + b_t``; see ``kerasrnn.backend.torch.sequence_cells.linear_recurrence``."""
    return _fast_path("sequence_cells", "linear_recurrence")(*args, **kwargs)
