"""Independently Recurrent Neural Network, IndRNN (Li, Li, Cook, Zhu & Gao, 2018)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import keras
from keras import constraints, initializers, ops

from kerasrnn import backend as fast_paths
from kerasrnn.layers.cell_rnn import CellRNN
from kerasrnn.layers.recurrent_cell import RecurrentCell
from kerasrnn.layers.tensor_types import Identifier, Shape, Tensor


def relu_recurrent_bound(time_steps: int, magnitude: float = 2.0) -> float:
    r"""The paper's bound on an IndRNN recurrent weight for relu over ``time_steps`` steps.

    With relu the gradient that flows back from step :math:`T` to step 0
    through one unit is :math:`\prod_t u\,\sigma'(\cdot) \le |u|^T`
    (:math:`\sigma' \in \{0, 1\}`). Keeping it below ``magnitude``
    (:math:`\gamma`, 2 in the paper and its authors' code) gives
    :math:`|u| \le \gamma^{1/T}`, i.e. :math:`2^{1/T}`.
    """
    if not isinstance(time_steps, int) or isinstance(time_steps, bool) or time_steps <= 0:
        raise ValueError(f"IndRNN: `time_steps` must be a positive integer, received {time_steps!r}.")
    if not (isinstance(magnitude, (int, float)) and math.isfinite(magnitude) and magnitude > 0):
        raise ValueError(f"IndRNN: `magnitude` must be a positive number, received {magnitude!r}.")
    return float(magnitude) ** (1.0 / time_steps)


@keras.saving.register_keras_serializable(package="kerasrnn")
class MaxAbs(keras.constraints.Constraint):
    """Clips every entry of a weight to ``[-max_value, max_value]``.

    IndRNN's recurrent weight constraint; applied after each optimizer update,
    as the paper's authors clip :math:`u` between updates.
    """

    def __init__(self, max_value: float) -> None:
        self.max_value = float(max_value)

    def __call__(self, w: Tensor) -> Tensor:
        return ops.clip(w, -self.max_value, self.max_value)

    def get_config(self) -> dict[str, Any]:
        return {"max_value": self.max_value}


@keras.saving.register_keras_serializable(package="kerasrnn")
class IndRNNCell(RecurrentCell):
    r"""The IndRNN cell: every unit has one recurrent weight, on its own state.

    Li, Li, Cook, Zhu & Gao, "Independently Recurrent Neural Network (IndRNN):
    Building A Longer and Deeper RNN", CVPR 2018 (arXiv:1803.04831):

    .. math::

        h_t = \sigma(W x_t + u \odot h_{t-1} + b)

    :math:`u` is a vector (a diagonal recurrent matrix), so the units are
    independent of each other within a layer; stacked layers mix them.
    :math:`\sigma` is ``activation``, relu by default.

    Weights:

    * ``kernel``: ``(input_dim, units)`` = :math:`W`
    * ``recurrent_kernel``: ``(units,)`` = :math:`u`
    * ``bias``: ``(units,)`` = :math:`b`

    Recurrent weight clipping (section 3.1 of the paper): with relu, the
    gradient over :math:`T` steps scales as :math:`|u|^T`, so the paper keeps
    :math:`|u| \le 2^{1/T}` for sequences of known length :math:`T`
    (:func:`relu_recurrent_bound`). ``recurrent_max_abs=m`` adds the
    constraint :class:`MaxAbs` that clips :math:`u` to :math:`[-m, m]` after
    every update; ``time_steps=T`` sets :math:`m = 2^{1/T}` (relu only).

    Initialization as the paper's authors do it (their adding-problem code):
    :math:`u \sim U(0, m)` with the clipping bound :math:`m`, or
    :math:`U(0, 1)` without one (``recurrent_initializer=None``, the default);
    any other initializer may be given. ``kernel`` (Glorot uniform) and
    ``bias`` (zeros) keep Keras' defaults.

    ``recurrent_dropout`` drops :math:`h_{t-1}` where it meets :math:`u`.
    There is no gate, hence no ``recurrent_activation`` (only ``None`` is
    accepted).

    States: ``[h]``; the output is ``h``.

    Args:
        units: Dimensionality of the state.
        activation: :math:`\sigma` (default ``"relu"``).
        recurrent_max_abs: Optional bound :math:`m` on :math:`|u|`.
        time_steps: Optional sequence length :math:`T`; sets
            ``recurrent_max_abs`` to :math:`2^{1/T}` (relu only; not with
            ``recurrent_max_abs``).
        recurrent_initializer: Initializer of :math:`u`; ``None`` for the
            paper's uniform one (above).
        **kwargs: See :class:`~kerasrnn.layers.recurrent_cell.RecurrentCell`
            (initializers, regularizers, constraints, dropout,
            recurrent_dropout, seed). ``recurrent_constraint`` cannot be
            combined with a clipping bound.

    Example::

        cell = kerasrnn.layers.IndRNNCell(32, time_steps=784)  # |u| <= 2 ** (1 / 784)
        y = keras.layers.RNN(cell)(keras.random.normal((4, 784, 1)))  # (4, 32)
    """

    def __init__(
        self,
        units: int,
        activation: Identifier = "relu",
        recurrent_activation: Identifier = None,
        recurrent_max_abs: float | None = None,
        time_steps: int | None = None,
        recurrent_initializer: Identifier = None,
        **kwargs: Any,
    ) -> None:
        name = type(self).__name__
        if recurrent_activation is not None:
            raise ValueError(
                f"{name}: IndRNN has no gate, so `recurrent_activation` does not "
                f"apply; received recurrent_activation={recurrent_activation!r}."
            )
        if recurrent_max_abs is not None and not (
            isinstance(recurrent_max_abs, (int, float))
            and not isinstance(recurrent_max_abs, bool)
            and math.isfinite(recurrent_max_abs)
            and recurrent_max_abs > 0
        ):
            raise ValueError(
                f"{name}: `recurrent_max_abs` must be a positive number or None, received {recurrent_max_abs!r}."
            )
        super().__init__(units, activation=activation, **kwargs)
        bound = None if recurrent_max_abs is None else float(recurrent_max_abs)
        if time_steps is not None:
            if bound is not None:
                raise ValueError(
                    f"{name}: give `recurrent_max_abs` or `time_steps` (which sets "
                    f"it to 2 ** (1 / time_steps)), not both."
                )
            if keras.activations.serialize(self.activation) != "relu":
                raise ValueError(
                    f"{name}: `time_steps` sets the paper's bound 2 ** (1 / time_steps), "
                    f"derived for relu; with activation="
                    f"{keras.activations.serialize(self.activation)!r} give "
                    f"`recurrent_max_abs` yourself."
                )
            bound = relu_recurrent_bound(time_steps)
        if bound is not None and self.recurrent_constraint is not None:
            raise ValueError(
                f"{name}: `recurrent_max_abs` / `time_steps` set the recurrent "
                f"constraint (clipping to [-m, m]); do not give "
                f"`recurrent_constraint` as well."
            )
        self.recurrent_max_abs = recurrent_max_abs
        self.time_steps = time_steps
        self.recurrent_bound = bound
        self.recurrent_initializer_argument = recurrent_initializer
        if recurrent_initializer is None:
            self.recurrent_initializer = initializers.RandomUniform(
                0.0, 1.0 if bound is None else bound, seed=self.seed
            )
        else:
            self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.clip = None if bound is None else MaxAbs(bound)

    def build(self, input_shape: Shape) -> None:
        input_dim = self.input_dim_of(input_shape)
        self.kernel = self.add_kernel(input_dim, self.units)
        self.recurrent_kernel = self.add_weight(
            shape=(self.units,),
            name="recurrent_kernel",
            initializer=self.recurrent_initializer,
            regularizer=self.recurrent_regularizer,
            constraint=self.clip if self.clip is not None else self.recurrent_constraint,
        )
        self.bias = self.add_bias(self.units)

    def project_inputs(self, inputs: Tensor) -> Tensor:
        return fast_paths.affine(inputs, self.kernel, self.bias if self.use_bias else None)

    def recurrent_step(
        self, projected: Tensor, states: Sequence[Tensor], training: bool = False
    ) -> tuple[Tensor, list[Tensor]]:
        h = self.dropped_state(states[0], training)
        h_t = self.activation(projected + self.recurrent_kernel * h)
        return h_t, [h_t]

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            recurrent_activation=None,
            recurrent_max_abs=self.recurrent_max_abs,
            time_steps=self.time_steps,
            recurrent_initializer=(
                None
                if self.recurrent_initializer_argument is None
                else initializers.serialize(self.recurrent_initializer)
            ),
            recurrent_constraint=constraints.serialize(self.recurrent_constraint),
        )
        return config


@keras.saving.register_keras_serializable(package="kerasrnn")
class IndRNN(CellRNN):
    """IndRNN layer: ``keras.layers.RNN(IndRNNCell(...))``.

    Takes every :class:`IndRNNCell` argument and the ``keras.layers.RNN``
    arguments (``return_sequences``, ``return_state``, ``go_backwards``,
    ``stateful``, ``unroll``).

    Example::

        y = kerasrnn.layers.IndRNN(128, time_steps=1000, return_sequences=True)(x)
    """

    cell_class = IndRNNCell

    def whole_sequence(
        self, sequences: Tensor, initial_state: Sequence[Tensor], mask: Tensor | None, training: bool
    ) -> tuple[Tensor, Tensor, Sequence[Tensor]]:
        # The recurrence is element-wise: on torch the C++ kernels run the whole loop in one call each way.
        cell = self.cell
        return fast_paths.ind_rnn(
            sequences,
            initial_state[0],
            mask,
            recurrent_kernel=cell.recurrent_kernel,
            activation=cell.activation,
            **self.sequence_options(training),
        )
