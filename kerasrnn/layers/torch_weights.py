"""Building a :class:`~kerasrnn.layers.Recurrent` from a ``torch.nn.RNN`` / ``LSTM`` / ``GRU`` and its weights.

Imported only by :meth:`Recurrent.from_torch <kerasrnn.layers.recurrent.Recurrent.from_torch>`
when it is called: this is the one kerasrnn layer module that imports torch.

The mapping, per layer ``l`` and direction (PyTorch's suffix ``_reverse`` is
the backward layer of Keras' ``Bidirectional``; both run over the time-ordered
input, the backward one from the end, and return time-ordered outputs):

* ``nn.RNN(nonlinearity="tanh" | "relu")`` -> cell ``"rnn_tanh"`` / ``"rnn_relu"``
  (``keras.layers.SimpleRNN``): ``kernel = weight_ih.T``,
  ``recurrent_kernel = weight_hh.T``, ``bias = bias_ih + bias_hh``.
* ``nn.LSTM`` -> cell ``"lstm"`` (:class:`~kerasrnn.layers.LSTM`): PyTorch's
  gate order i, f, g, o is Keras' i, f, c, o (g is the candidate), so
  ``kernel = weight_ih.T``, ``recurrent_kernel = weight_hh.T``,
  ``bias = bias_ih + bias_hh`` (Keras has one bias; the two only ever
  appear summed); with ``proj_size`` also ``projection_kernel = weight_hr.T``.
* ``nn.GRU`` -> cell ``"gru_cudnn"`` (:class:`~kerasrnn.layers.GRU` with
  ``reset_after=True``, PyTorch's form): PyTorch's gate blocks r, z, n are
  Keras' z, r, h reordered, so ``kernel = [W_iz; W_ir; W_in].T``,
  ``recurrent_kernel = [W_hz; W_hr; W_hn].T`` and ``bias`` ``(2, 3 * units)``
  = ``[b_i(z, r, n), b_h(z, r, n)]``: both biases kept, as they must be (the
  recurrent candidate bias sits inside the reset gate's product).

``bias=False`` gives ``use_bias=False``; ``num_layers``, ``bidirectional``
(``merge_mode="concat"``, forward first as PyTorch), ``dropout`` (between
layers, in training) and ``proj_size`` carry over. Keras layers are
batch-major: the result takes ``(batch, time, features)`` whatever the
module's ``batch_first`` (transpose time-major data first).
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import torch

from kerasrnn.errors import ConfigError
from kerasrnn.layers.recurrent import Recurrent

# Recurrent's arguments that the module fixes.
_TAKEN_FROM_MODULE = (
    "cell",
    "units",
    "num_layers",
    "dropout",
    "bidirectional",
    "merge_mode",
    "proj_size",
    "cell_kwargs",
)


def _cell_name(module: torch.nn.Module) -> str:
    if isinstance(module, torch.nn.LSTM):
        return "lstm"
    if isinstance(module, torch.nn.GRU):
        return "gru_cudnn"
    if isinstance(module, torch.nn.RNN):
        return {"tanh": "rnn_tanh", "relu": "rnn_relu"}[module.nonlinearity]
    raise ConfigError(
        f"Recurrent.from_torch: expected a torch.nn.RNN, torch.nn.LSTM or torch.nn.GRU; received {type(module).__name__}."
    )


def _numpy(tensor: torch.Tensor) -> np.ndarray:
    return tensor.detach().to(device="cpu", dtype=torch.float64).numpy()


def _gru_gates(weight: np.ndarray) -> np.ndarray:
    """Rows (or entries) in PyTorch's GRU order r, z, n -> Keras' z, r, h."""
    r, z, n = np.split(weight, 3, axis=0)
    return np.concatenate([z, r, n], axis=0)


def _keras_weights(cell_name: str, torch_weights: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """One direction of one layer: PyTorch's parameters -> the Keras cell's, by name."""
    weight_ih, weight_hh = torch_weights["weight_ih"], torch_weights["weight_hh"]
    bias_ih, bias_hh = torch_weights.get("bias_ih"), torch_weights.get("bias_hh")
    if cell_name == "gru_cudnn":
        weights = {"kernel": _gru_gates(weight_ih).T, "recurrent_kernel": _gru_gates(weight_hh).T}
        if bias_ih is not None:
            weights["bias"] = np.stack([_gru_gates(bias_ih), _gru_gates(bias_hh)])
        return weights
    weights = {"kernel": weight_ih.T, "recurrent_kernel": weight_hh.T}
    if bias_ih is not None:
        weights["bias"] = bias_ih + bias_hh
    if "weight_hr" in torch_weights:
        weights["projection_kernel"] = torch_weights["weight_hr"].T
    return weights


def _cells(recurrent: Recurrent) -> list[keras.Layer]:
    """The Keras cells in PyTorch's parameter order: layer-major, forward before reverse."""
    cells = []
    for layer in recurrent.rnn_layers:
        if recurrent.bidirectional:
            cells.extend([layer.forward_layer.cell, layer.backward_layer.cell])
        else:
            cells.append(layer.cell)
    return cells


def recurrent_from_torch(
    module: torch.nn.Module, recurrent_class: type[Recurrent] = Recurrent, **kwargs: Any
) -> Recurrent:
    """The :class:`Recurrent` computing what ``module`` computes, with its weights copied.

    ``kwargs`` go to :class:`Recurrent` (``return_sequences`` defaults to
    ``True``, PyTorch's ``output``; ``return_state=True`` adds PyTorch's
    ``h_n`` (and ``c_n``) as a flat list ``[h_0, (c_0,) h_1, ...]`` in
    ``h_n``'s order; ``dtype``, ``name``, ``stateful`` ...). The arguments the
    module fixes (``cell``, ``units``, ``num_layers``, ...) are refused.
    """
    cell_name = _cell_name(module)
    taken = sorted(set(kwargs) & set(_TAKEN_FROM_MODULE))
    if taken:
        raise ConfigError(f"Recurrent.from_torch: {taken} come from the torch module; received them as arguments.")
    proj_size = getattr(module, "proj_size", 0)
    options = {"return_sequences": True, **kwargs}
    recurrent = recurrent_class(
        cell_name,
        module.hidden_size,
        num_layers=module.num_layers,
        dropout=float(module.dropout),
        bidirectional=module.bidirectional,
        proj_size=proj_size,
        cell_kwargs=None if module.bias else {"use_bias": False},
        **options,
    )
    recurrent.build((None, None, module.input_size))
    suffixes = ("", "_reverse") if module.bidirectional else ("",)
    names = ["weight_ih", "weight_hh"] + (["bias_ih", "bias_hh"] if module.bias else [])
    names += ["weight_hr"] if proj_size else []
    cells = iter(_cells(recurrent))
    for index in range(module.num_layers):
        for suffix in suffixes:
            torch_weights = {name: _numpy(getattr(module, f"{name}_l{index}{suffix}")) for name in names}
            cell = next(cells)
            for name, value in _keras_weights(cell_name, torch_weights).items():
                variable = getattr(cell, name)
                if tuple(variable.shape) != value.shape:  # a mapping error, never a user's
                    raise AssertionError(f"{cell.name}.{name}: Keras {tuple(variable.shape)} vs {value.shape}")
                variable.assign(value.astype(variable.dtype))
    return recurrent
