"""minGRU (Feng, Tung, Ahmed, Bengio & Hajimirsadeghi, 2024)."""

from __future__ import annotations

import keras
from keras import ops

from kerasrnn.layers.linear_recurrence import (
    LinearRecurrenceCell,
    LinearRecurrenceRNN,
    log_candidate_activation,
)
from kerasrnn.layers.tensor_types import Tensor


@keras.saving.register_keras_serializable(package="kerasrnn")
class MinGRUCell(LinearRecurrenceCell):
    r"""The minimal GRU: a GRU whose gate and candidate read only the input.

    Feng, Tung, Ahmed, Bengio & Hajimirsadeghi, "Were RNNs All We Needed?",
    2024 (arXiv:2410.01201), section 3.1:

    .. math::

        z_t &= \sigma(W_z x_t + b_z) \\
        \tilde h_t &= g(W_h x_t + b_h) \quad (\text{log-space form; } W_h x_t + b_h \text{ with } ``log_space=False``) \\
        h_t &= (1 - z_t) \odot h_{t-1} + z_t \odot \tilde h_t

    with the paper's :math:`g(x) = x + 0.5` for :math:`x \ge 0` and
    :math:`\sigma(x)` below, which keeps :math:`\tilde h_t > 0`. No weight
    reads :math:`h_{t-1}`, so :class:`MinGRU` trains by a parallel scan over
    time; this cell is the same function one step at a time (generation,
    streaming, ``keras.layers.RNN``).

    Default, ``log_space=True`` (the paper's form for training stability): the
    candidate goes through :math:`g` and the scan runs on
    :math:`\log(1 - z_t) = -\operatorname{softplus}(k_t)`,
    :math:`\log z_t = -\operatorname{softplus}(-k_t)`, :math:`\log \tilde h_t`
    (:math:`k_t = W_z x_t + b_z`); the step above computes the same function.
    ``log_space=False`` is the paper's plain minGRU (unbounded candidate,
    linear-space scan). The initial state may have any sign in both forms
    (see :mod:`kerasrnn.layers.linear_recurrence`).

    Weights (gate order **z, h**):

    * ``kernel``: ``(input_dim, 2 * units)`` = :math:`[W_z, W_h]`
    * ``bias``: ``(2 * units,)`` = :math:`[b_z, b_h]`

    States: ``[h]``; the output is ``h``.

    Args:
        units: Dimensionality of the state.
        **kwargs: See :class:`~kerasrnn.layers.linear_recurrence.LinearRecurrenceCell`
            (``log_space``, initializers, regularizers, constraints of the
            kernel and bias, ``dropout``, ``seed``).

    Example::

        cell = kerasrnn.layers.MinGRUCell(32)
        y = keras.layers.RNN(cell)(keras.random.normal((4, 10, 8)))  # (4, 32)
    """

    gates = 2

    def coefficients(self, projected: Tensor) -> tuple[Tensor, Tensor]:
        k, p_h = ops.split(projected, 2, axis=-1)
        # 1 - σ(k) written as σ(-k): exact where σ(k) rounds to 1.
        return ops.sigmoid(-k), ops.sigmoid(k) * self.candidate(p_h)

    def log_coefficients(self, projected: Tensor) -> tuple[Tensor, Tensor]:
        k, p_h = ops.split(projected, 2, axis=-1)
        return -ops.softplus(k), -ops.softplus(-k) + log_candidate_activation(p_h)


@keras.saving.register_keras_serializable(package="kerasrnn")
class MinGRU(LinearRecurrenceRNN):
    """minGRU layer: ``keras.layers.RNN(MinGRUCell(...))`` that trains by a parallel scan.

    Takes every :class:`MinGRUCell` argument, the ``keras.layers.RNN``
    arguments (``return_sequences``, ``return_state``, ``go_backwards``,
    ``stateful``, ``unroll``, ``zero_output_for_mask``) and
    ``parallel_scan`` (default ``True``: an associative scan over time; ``False``:
    Keras' step loop; same numbers).

    Example::

        y = kerasrnn.layers.MinGRU(64, return_sequences=True)(x)  # (batch, time, 64)
    """

    cell_class = MinGRUCell
