"""Weight initialization schemes of ``build_model``: Keras' defaults or PyTorch's.

``"keras"`` keeps each layer's own defaults: Glorot-uniform input kernels,
orthogonal recurrent kernels, zero biases (LSTM forget-gate biases 1).

``"pytorch"`` reproduces what ``torch.nn.RNN``/``LSTM``/``GRU`` and
``torch.nn.Linear`` do, for rerunning PyTorch experiments (the course's
labs) as they were configured: every recurrent weight and bias drawn from
:math:`U(-1/\\sqrt{h}, 1/\\sqrt{h})` for state size :math:`h`, no forget-gate
bias of 1, and a dense layer's weight and bias from
:math:`U(-1/\\sqrt{n}, 1/\\sqrt{n})` for :math:`n` inputs (PyTorch's
``kaiming_uniform_(a=sqrt(5))`` comes to that bound). One difference is
left: PyTorch's RNNs add two biases (``b_ih + b_hh``), Keras' SimpleRNN and
LSTM have one, so their bias is a single draw (half PyTorch's variance).
"""

from __future__ import annotations

import math
from typing import Any

import keras

INITIALIZATIONS = ("keras", "pytorch")


def _uniform(bound: float) -> keras.initializers.RandomUniform:
    return keras.initializers.RandomUniform(-bound, bound)


def recurrent_initializers(init: str, units: int, cell: str) -> dict[str, Any]:
    """Extra cell arguments that give ``cell`` (a ``Recurrent`` cell name) the ``init`` scheme."""
    if init == "keras":
        return {}
    if cell == "ind_rnn":
        # No torch.nn counterpart, and U(-1/sqrt(h), 1/sqrt(h)) recurrent weights
        # would undo what IndRNN's own initialization (u in [0, 1]) is for.
        raise ValueError(
            f"init={init!r} reproduces torch.nn's RNN/LSTM/GRU initialization; it does "
            f"not apply to ind_rnn (IndRNN), whose recurrent weights need the paper's "
            f"initialization: use init='keras'"
        )
    if cell == "esn":
        raise ValueError(
            f"init={init!r} reproduces torch.nn's RNN/LSTM/GRU initialization; it does "
            f"not apply to esn (echo state network), which has no torch.nn counterpart: "
            f"its reservoir is fixed, sparse and scaled to a spectral radius: use init='keras'"
        )
    bound = 1.0 / math.sqrt(units)
    kwargs = {
        "kernel_initializer": _uniform(bound),
        "recurrent_initializer": _uniform(bound),
        "bias_initializer": _uniform(bound),
    }
    if cell in ("min_gru", "min_lstm"):
        # Gates of the input alone: no recurrent kernel, no forget-gate bias option.
        del kwargs["recurrent_initializer"]
    elif cell.endswith("lstm"):
        kwargs["unit_forget_bias"] = False
    if cell == "nas":  # as torch.nn.LSTM's proj_size weights
        kwargs["projection_initializer"] = _uniform(bound)
    return kwargs


def dense_initializers(init: str, fan_in: int) -> dict[str, Any]:
    """Keyword arguments for a ``Dense`` head of ``fan_in`` inputs under ``init``."""
    if init == "keras":
        return {}
    bound = 1.0 / math.sqrt(fan_in)
    return {"kernel_initializer": _uniform(bound), "bias_initializer": _uniform(bound)}
