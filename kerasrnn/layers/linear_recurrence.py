r"""Recurrences linear in the state, ``h_t = a_t ⊙ h_{t-1} + b_t``, one step or by a parallel scan.

The minimal RNNs of Feng, Tung, Ahmed, Bengio & Hajimirsadeghi, "Were RNNs All
We Needed?" (2024, arXiv:2410.01201), compute their gates from the input
alone, so the state obeys a recurrence that is linear in :math:`h`:

.. math::

    h_t = a_t \odot h_{t-1} + b_t, \qquad a_t, b_t \text{ functions of } x_t \text{ only}.

Such a recurrence can run two ways, with the same numbers:

* **one step at a time**, :meth:`LinearRecurrenceCell.call` inside
  ``keras.layers.RNN``: generation, streaming export, any wrapper that steps
  a cell;
* **all steps at once** by an associative scan over time
  (``keras.ops.associative_scan``, on every backend): depth
  :math:`O(\log T)` rather than :math:`T`, which is how these cells train.

The scan composes step pairs ``(a, b)``: applying ``(a_1, b_1)`` then
``(a_2, b_2)`` is ``(a_1 a_2, a_2 b_1 + b_2)``. Over steps ``1..t`` it yields
:math:`P_t = \prod_{k \le t} a_k` and :math:`h^{(0)}_t`, the state reached
from :math:`h_0 = 0`; as the recurrence is linear in :math:`h_0`,

.. math::

    h_t = h^{(0)}_t + P_t \odot h_0,

for an initial state of any sign (a user's, a stateful layer's).

**Log space** (the paper's numerically stable form, the default of the
cells here): when every :math:`b_t > 0` (the candidate passed through the
positive :math:`g`), the scan works on :math:`(\log a_t, \log b_t)` and
composes ``(A_1 + A_2, logaddexp(B_1 + A_2, B_2))``, giving
:math:`\log P_t` and :math:`\log h^{(0)}_t`. The paper writes the same sum
as :math:`h_t = \exp\big(a^*_t + \operatorname{logcumsumexp}(\log b_t -
a^*_t)\big)` with :math:`a^*_t = \sum_{k \le t} \log a_k`; the pairwise form
computes the identical function without adding and then removing the large
offsets :math:`a^*_t` (which, in float32, cost relative precision
proportional to :math:`|a^*_t|` on long sequences). :math:`h_0` never enters
the logarithm (above), so it may be zero or negative.

A masked step has ``a = 1, b = 0`` (``log a = 0``, ``log b`` a very negative
number): the state is carried over, and the step's output is the previous
state, as Keras' RNN gives at a masked step (zero with
``zero_output_for_mask``). ``go_backwards`` reverses the time axis before the
scan and returns the outputs in processing order, as Keras does. Input
dropout applies one mask per sequence before the scan.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import keras
from keras import constraints, initializers, ops, regularizers

from kerasrnn import backend as fast_paths
from kerasrnn.layers.cell_rnn import CellRNN
from kerasrnn.layers.recurrent_cell import RecurrentCell
from kerasrnn.layers.tensor_types import Identifier, Shape, Tensor

# log b of a masked step: exp() of it is 0 in float32, and unlike -inf it keeps
# logaddexp and its gradient finite when both of its arguments are masked.
_LOG_ZERO = -1e30


def candidate_activation(x: Tensor) -> Tensor:
    r"""The paper's :math:`g(x) = x + 0.5` for :math:`x \ge 0`, :math:`\sigma(x)` otherwise (positive, continuous)."""
    return ops.where(x >= 0, ops.relu(x) + 0.5, ops.sigmoid(x))


def log_candidate_activation(x: Tensor) -> Tensor:
    r""":math:`\log g(x)`: :math:`\log(x + 0.5)` for :math:`x \ge 0`, :math:`-\operatorname{softplus}(-x)` otherwise."""
    return ops.where(x >= 0, ops.log(ops.relu(x) + 0.5), -ops.softplus(-x))


def _compose_linear(earlier: tuple[Tensor, Tensor], later: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
    a1, b1 = earlier
    a2, b2 = later
    return a1 * a2, a2 * b1 + b2


def _compose_log(earlier: tuple[Tensor, Tensor], later: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
    log_a1, log_b1 = earlier
    log_a2, log_b2 = later
    return log_a1 + log_a2, ops.logaddexp(log_b1 + log_a2, log_b2)


def prefix_scan(
    compose: Callable[[tuple[Tensor, ...], tuple[Tensor, ...]], tuple[Tensor, ...]],
    elems: tuple[Tensor, ...],
    identity: tuple[float, ...],
) -> tuple[Tensor, ...]:
    """Inclusive scan of ``elems`` over axis 1 by doubling (Hillis & Steele 1986): depth log2 T.

    Used on the torch backend, where Keras' ``associative_scan`` (3.15) builds
    its intermediate tensors with ``torch.zeros(shape)``: float32 and on the
    CPU whatever the inputs' dtype and device. ``identity`` is the element that
    ``compose`` leaves unchanged (pads the shifted copy).
    """
    length = elems[0].shape[1]
    shift = 1
    while shift < length:
        shifted = tuple(
            ops.concatenate([ops.full_like(e[:, :shift], value), e[:, :-shift]], axis=1)
            for e, value in zip(elems, identity)
        )
        elems = compose(shifted, elems)
        shift *= 2
    return elems


def scan_linear_recurrence(
    a: Tensor, b: Tensor, initial_state: Tensor, mask: Tensor | None = None, log_space: bool = False
) -> Tensor:
    """All states of ``h_t = a_t ⊙ h_{t-1} + b_t`` over axis 1, by an associative scan.

    Args:
        a, b: ``(batch, time, units)``; with ``log_space`` they are ``log a``
            and ``log b`` (``b > 0``).
        initial_state: ``h_0``, ``(batch, units)``, any sign.
        mask: Optional ``(batch, time)`` booleans; a masked step keeps the state.
        log_space: Whether ``a`` and ``b`` are logarithms.

    Returns:
        ``(batch, time, units)``: ``h_1 .. h_T``.
    """
    if mask is not None:
        keep = ops.expand_dims(ops.cast(mask, "bool"), -1)
        a = ops.where(keep, a, 0.0 if log_space else 1.0)
        b = ops.where(keep, b, _LOG_ZERO if log_space else 0.0)
    compose = _compose_log if log_space else _compose_linear
    if keras.backend.backend() == "torch":
        identity = (0.0, _LOG_ZERO) if log_space else (1.0, 0.0)
        decay, from_zero = prefix_scan(compose, (a, b), identity)
    else:
        decay, from_zero = ops.associative_scan(compose, (a, b), axis=1)
    if None not in a.shape[1:]:  # TensorFlow's scan loses the static shape under a dynamic batch size
        shape = (-1, *a.shape[1:])
        decay, from_zero = ops.reshape(decay, shape), ops.reshape(from_zero, shape)
    if log_space:
        decay, from_zero = ops.exp(decay), ops.exp(from_zero)
    return from_zero + decay * ops.expand_dims(initial_state, 1)


class LinearRecurrenceCell(RecurrentCell):
    r"""Base of the cells whose gates read only the input: ``h_t = a_t ⊙ h_{t-1} + b_t``.

    One fused ``kernel`` ``(input_dim, gates * units)`` and ``bias``
    ``(gates * units,)`` give the pre-activations; subclasses name the gate
    order (``gates``) and turn the pre-activations into ``(a, b)``
    (:meth:`coefficients`) and, for the log-space form, into
    ``(log a, log b)`` (:meth:`log_coefficients`). There is no recurrent
    weight, so no ``recurrent_*`` argument and no recurrent dropout.

    Args:
        units: Dimensionality of the state.
        log_space: ``True`` (default, the paper's stable form): the candidate
            goes through the positive :math:`g` and the layer's scan runs in
            log space. ``False``: the candidate is the bare linear map and the
            scan runs in linear space.
        use_bias: Whether the cell uses a bias vector.
        kernel_initializer, bias_initializer, kernel_regularizer,
        bias_regularizer, kernel_constraint, bias_constraint: Of the fused
            kernel and bias.
        dropout: Fraction of the inputs dropped, one mask per sequence.
        seed: Random seed of the dropout mask.
    """

    gates = 2  # set by each subclass

    def __init__(
        self,
        units: int,
        log_space: bool = True,
        use_bias: bool = True,
        kernel_initializer: Identifier = "glorot_uniform",
        bias_initializer: Identifier = "zeros",
        kernel_regularizer: Identifier = None,
        bias_regularizer: Identifier = None,
        kernel_constraint: Identifier = None,
        bias_constraint: Identifier = None,
        dropout: float = 0.0,
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            units,
            use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            bias_initializer=bias_initializer,
            kernel_regularizer=kernel_regularizer,
            bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint,
            bias_constraint=bias_constraint,
            dropout=dropout,
            seed=seed,
            **kwargs,
        )
        self.log_space = bool(log_space)

    def build(self, input_shape: Shape) -> None:
        input_dim = self.input_dim_of(input_shape)
        self.kernel = self.add_kernel(input_dim, self.gates * self.units)
        self.bias = self.add_bias(self.gates * self.units)

    def project_inputs(self, inputs: Tensor) -> Tensor:
        return fast_paths.affine(inputs, self.kernel, self.bias if self.use_bias else None)

    def candidate(self, pre_activation: Tensor) -> Tensor:
        """:math:`\\tilde h`: ``g(·)`` in the log-space form, the bare linear map otherwise."""
        return candidate_activation(pre_activation) if self.log_space else pre_activation

    def coefficients(self, projected: Tensor) -> tuple[Tensor, Tensor]:
        """``(a, b)`` of the step(s) from the projected inputs."""
        raise NotImplementedError

    def log_coefficients(self, projected: Tensor) -> tuple[Tensor, Tensor]:
        """``(log a, log b)``, for the log-space form (``b > 0``)."""
        raise NotImplementedError

    def recurrent_step(
        self, projected: Tensor, states: Sequence[Tensor], training: bool = False
    ) -> tuple[Tensor, list[Tensor]]:
        a, b = self.coefficients(projected)
        h = a * states[0] + b
        return h, [h]

    def scan(self, projected: Tensor, initial_state: Tensor, mask: Tensor | None = None) -> Tensor:
        """Every state of a ``(batch, time, gates * units)`` projected sequence, by a scan."""
        dtype = projected.dtype
        if self.log_space:
            # logaddexp and the masked steps' very negative log b want float32 at least.
            compute = "float32" if keras.backend.standardize_dtype(dtype) in ("float16", "bfloat16") else dtype
            log_a, log_b = self.log_coefficients(ops.cast(projected, compute))
            h = scan_linear_recurrence(log_a, log_b, ops.cast(initial_state, compute), mask, log_space=True)
            return ops.cast(h, dtype)
        a, b = self.coefficients(projected)
        return scan_linear_recurrence(a, b, initial_state, mask)

    def get_config(self) -> dict[str, Any]:
        config = {
            "units": self.units,
            "log_space": self.log_space,
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "bias_constraint": constraints.serialize(self.bias_constraint),
            "dropout": self.dropout,
            "seed": self.seed,
        }
        return {**keras.layers.Layer.get_config(self), **config}


class LinearRecurrenceRNN(CellRNN):
    """``keras.layers.RNN`` of a :class:`LinearRecurrenceCell` that trains by a parallel scan.

    With ``parallel_scan=True`` (the default) the whole sequence goes through
    :meth:`LinearRecurrenceCell.scan` (see the module docstring); with
    ``False``, or where the number of time steps is not known when the layer
    runs (a symbolic TensorFlow graph with a variable length), Keras' step loop
    runs the cell. Both compute the same function (tested equal).
    """

    def __init__(self, *args: Any, parallel_scan: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.parallel_scan = bool(parallel_scan)

    @classmethod
    def cell_argument_names(cls) -> list[str]:
        import inspect

        names = []
        for parameter in inspect.signature(LinearRecurrenceCell.__init__).parameters.values():
            if parameter.kind not in (parameter.VAR_KEYWORD, parameter.VAR_POSITIONAL) and parameter.name != "self":
                names.append(parameter.name)
        return names

    def inner_loop(
        self,
        sequences: Tensor,
        initial_state: Sequence[Tensor],
        mask: Tensor | None,
        training: bool = False,
    ) -> tuple[Tensor, Tensor, Sequence[Tensor]]:
        if not self.parallel_scan or sequences.shape[1] is None:
            return super().inner_loop(sequences, initial_state, mask, training=training)
        cell = self.cell
        projected = cell.project_inputs(cell.dropped_inputs(sequences, training))
        if mask is not None:
            mask = ops.cast(mask, "bool")
            if len(mask.shape) == 3:
                mask = mask[..., 0]
        if self.go_backwards:
            projected = ops.flip(projected, axis=1)
            mask = None if mask is None else ops.flip(mask, axis=1)
        states = self._sequential_states(projected, initial_state[0], mask)
        if states is None:
            states = cell.scan(projected, initial_state[0], mask)
        last_state = states[:, -1]
        outputs = states
        if mask is not None and self.zero_output_for_mask:
            outputs = ops.where(ops.expand_dims(mask, -1), states, ops.zeros_like(states))
        return outputs[:, -1], outputs, [last_state]

    def _sequential_states(self, projected: Tensor, initial_state: Tensor, mask: Tensor | None) -> Tensor | None:
        """The states by the backend's one-pass recurrence where it has one (torch's C++ kernels), else None.

        The same function as the scan: the cell's linear-space coefficients (what its step uses) and a
        masked step as ``a = 1, b = 0``. Sequential, it needs neither the log-space form nor log2(T) passes.
        """

        def coefficients(projected: Tensor) -> tuple[Tensor, Tensor]:
            a, b = self.cell.coefficients(projected)
            if mask is None:
                return a, b
            keep = ops.expand_dims(mask, -1)
            return ops.where(keep, a, 1.0), ops.where(keep, b, 0.0)

        try:
            return fast_paths.linear_recurrence(projected, initial_state, coefficients)
        except NotImplementedError:
            return None

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "parallel_scan": self.parallel_scan}
