"""minLSTM (Feng, Tung, Ahmed, Bengio & Hajimirsadeghi, 2024)."""

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
class MinLSTMCell(LinearRecurrenceCell):
    r"""The minimal LSTM: forget and input gates of the input alone, normalized, no cell state apart.

    Feng, Tung, Ahmed, Bengio & Hajimirsadeghi, "Were RNNs All We Needed?",
    2024 (arXiv:2410.01201), section 3.2 (the length-independent scaling):

    .. math::

        f_t &= \sigma(W_f x_t + b_f), \quad i_t = \sigma(W_i x_t + b_i) \\
        f'_t &= \frac{f_t}{f_t + i_t}, \quad i'_t = \frac{i_t}{f_t + i_t} \\
        \tilde h_t &= g(W_h x_t + b_h) \quad (\text{log-space form; } W_h x_t + b_h \text{ with } ``log_space=False``) \\
        h_t &= f'_t \odot h_{t-1} + i'_t \odot \tilde h_t

    with the paper's :math:`g(x) = x + 0.5` for :math:`x \ge 0` and
    :math:`\sigma(x)` below (a positive candidate). No weight reads
    :math:`h_{t-1}`, so :class:`MinLSTM` trains by a parallel scan over time;
    this cell is the same function one step at a time.

    Default, ``log_space=True`` (the paper's form for training stability): the
    scan runs on :math:`\log f'_t = -\operatorname{softplus}(d_t)`,
    :math:`\log i'_t = -\operatorname{softplus}(-d_t)` with
    :math:`d_t = \operatorname{softplus}(-k^f_t) - \operatorname{softplus}(-k^i_t)
    = \log i_t - \log f_t` (:math:`k^f, k^i` the gates' pre-activations) and
    :math:`\log \tilde h_t`; the step computes the same function as
    :math:`f'_t = \sigma(-d_t)`, :math:`i'_t = \sigma(d_t)` (equal to the
    ratios above, and finite where both gates underflow to 0). ``log_space=False`` is the
    plain minLSTM (unbounded candidate, linear-space scan). The initial state
    may have any sign in both forms (see
    :mod:`kerasrnn.layers.linear_recurrence`).

    Weights (gate order **f, i, h**):

    * ``kernel``: ``(input_dim, 3 * units)`` = :math:`[W_f, W_i, W_h]`
    * ``bias``: ``(3 * units,)`` = :math:`[b_f, b_i, b_h]`

    States: ``[h]``; the output is ``h``.

    Args:
        units: Dimensionality of the state.
        **kwargs: See :class:`~kerasrnn.layers.linear_recurrence.LinearRecurrenceCell`.

    Example::

        cell = kerasrnn.layers.MinLSTMCell(32)
        y = keras.layers.RNN(cell)(keras.random.normal((4, 10, 8)))  # (4, 32)
    """

    gates = 3

    def coefficients(self, projected: Tensor) -> tuple[Tensor, Tensor]:
        k_f, k_i, p_h = ops.split(projected, 3, axis=-1)
        # f / (f + i) = σ(log f - log i): no 0 / 0 where both gates underflow.
        d = ops.softplus(-k_f) - ops.softplus(-k_i)
        return ops.sigmoid(-d), ops.sigmoid(d) * self.candidate(p_h)

    def log_coefficients(self, projected: Tensor) -> tuple[Tensor, Tensor]:
        k_f, k_i, p_h = ops.split(projected, 3, axis=-1)
        d = ops.softplus(-k_f) - ops.softplus(-k_i)
        return -ops.softplus(d), -ops.softplus(-d) + log_candidate_activation(p_h)


@keras.saving.register_keras_serializable(package="kerasrnn")
class MinLSTM(LinearRecurrenceRNN):
    """minLSTM layer: ``keras.layers.RNN(MinLSTMCell(...))`` that trains by a parallel scan.

    Takes every :class:`MinLSTMCell` argument, the ``keras.layers.RNN``
    arguments and ``parallel_scan`` (default ``True``; ``False``: Keras' step
    loop; same numbers).

    Example::

        y = kerasrnn.layers.MinLSTM(64, return_sequences=True)(x)  # (batch, time, 64)
    """

    cell_class = MinLSTMCell
