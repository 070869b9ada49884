"""The common base of kerasrnn's recurrent cells.

A cell computes one time step; ``keras.layers.RNN`` (or one of our ready layers,
which are thin RNN subclasses) runs the loop. Every kerasrnn cell splits its
step in two: :meth:`RecurrentCell.project_inputs` (everything that depends on
the input alone) and :meth:`RecurrentCell.recurrent_step` (the rest), and
``call`` is just the two in a row. Applied to a whole sequence at once, the
first is the hoisted input projection that our ready layers use
(:class:`~kerasrnn.layers.cell_rnn.CellRNN`); the math stays in one place.

The cell contract Keras expects:

* ``call(inputs, states, training=False) -> (output, new_states)``;
* ``state_size``: a list of ints, ``output_size``: an int;
* ``get_initial_state(batch_size=...)`` returns a list.

Every kerasrnn cell returns ``states[0]`` as its output, so that masked steps
are right on every backend (the JAX and NumPy loops carry ``states[0]``
forward as the output of a masked step).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import keras
from keras import constraints, initializers, ops, regularizers

# Keras' RNN layer draws the dropout masks *before* its time loop only for cells
# that are instances of this private mixin; see kerasrnn.keras_private.
from kerasrnn.keras_private import DropoutRNNCell
from kerasrnn.layers.tensor_types import Identifier, Shape, Tensor


class RecurrentCell(keras.layers.Layer, DropoutRNNCell):
    """Base class holding what every gated cell shares.

    Subclasses set ``state_size`` and implement ``build`` (creating their
    weights with :meth:`add_kernel`, :meth:`add_recurrent_kernel`,
    :meth:`add_bias`), :meth:`project_inputs` and :meth:`recurrent_step`.

    Args:
        units: Positive integer, dimensionality of the hidden state.
        activation: Activation of the candidate and of the output
            (default ``tanh``).
        recurrent_activation: Activation of the gates (default ``sigmoid``).
        use_bias: Whether the cell uses bias vectors.
        kernel_initializer, recurrent_initializer, bias_initializer:
            Initializers of the input kernel, the recurrent kernel and the
            bias.
        kernel_regularizer, recurrent_regularizer, bias_regularizer:
            Regularizers of the same three weights.
        kernel_constraint, recurrent_constraint, bias_constraint:
            Constraints of the same three weights.
        dropout: Float in [0, 1), fraction of the inputs dropped. One mask
            per sequence, shared by all time steps (Gal & Ghahramani, 2016).
        recurrent_dropout: Float in [0, 1), fraction of the recurrent state
            dropped where it enters a matrix product; one mask per sequence.
        seed: Random seed for the dropout masks.
    """

    def __init__(
        self,
        units: int,
        activation: Identifier = "tanh",
        recurrent_activation: Identifier = "sigmoid",
        use_bias: bool = True,
        kernel_initializer: Identifier = "glorot_uniform",
        recurrent_initializer: Identifier = "orthogonal",
        bias_initializer: Identifier = "zeros",
        kernel_regularizer: Identifier = None,
        recurrent_regularizer: Identifier = None,
        bias_regularizer: Identifier = None,
        kernel_constraint: Identifier = None,
        recurrent_constraint: Identifier = None,
        bias_constraint: Identifier = None,
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        if not isinstance(units, int) or isinstance(units, bool) or units <= 0:
            raise ValueError(f"{type(self).__name__}: `units` must be a positive integer, received units={units!r}.")
        for arg, rate in (("dropout", dropout), ("recurrent_dropout", recurrent_dropout)):
            if not 0.0 <= rate < 1.0:
                raise ValueError(f"{type(self).__name__}: `{arg}` must be in [0, 1), received {arg}={rate!r}.")
        super().__init__(**kwargs)
        self.units = units
        self.activation = keras.activations.get(activation)
        self.recurrent_activation = keras.activations.get(recurrent_activation)
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.recurrent_constraint = constraints.get(recurrent_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.dropout = float(dropout)
        self.recurrent_dropout = float(recurrent_dropout)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed=seed)
        self.state_size = [units]
        self.output_size = units

    # -- weights -----------------------------------------------------------

    def add_kernel(self, input_dim: int, width: int, name: str = "kernel") -> keras.Variable:
        return self.add_weight(
            shape=(input_dim, width),
            name=name,
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )

    def add_recurrent_kernel(self, width: int, name: str = "recurrent_kernel") -> keras.Variable:
        return self.add_weight(
            shape=(self.units, width),
            name=name,
            initializer=self.recurrent_initializer,
            regularizer=self.recurrent_regularizer,
            constraint=self.recurrent_constraint,
        )

    def add_bias(self, width: int, name: str = "bias", initializer: Identifier = None) -> keras.Variable | None:
        if not self.use_bias:
            return None
        return self.add_weight(
            shape=(width,),
            name=name,
            initializer=initializer or self.bias_initializer,
            regularizer=self.bias_regularizer,
            constraint=self.bias_constraint,
        )

    def add_lstm_bias(self, unit_forget_bias: bool) -> keras.Variable | None:
        """The fused ``(4 * units,)`` bias of gates i, f, c, o; forget part 1 if asked."""
        initializer = forget_bias_initializer(self.bias_initializer, self.units, 4) if unit_forget_bias else None
        return self.add_bias(4 * self.units, initializer=initializer)

    def input_dim_of(self, input_shape: Shape) -> int:
        """Validates a step input shape ``(batch, features)``; returns features."""
        if len(input_shape) != 2 or input_shape[-1] is None:
            raise ValueError(
                f"{type(self).__name__} '{self.name}' expects step inputs of "
                f"shape (batch, features) with a known feature size, i.e. "
                f"sequences of shape (batch, time, features); received step "
                f"shape {tuple(input_shape)}."
            )
        return int(input_shape[-1])

    # -- one step = input projection + recurrent step -----------------------------

    def project_inputs(self, inputs: Tensor) -> Tensor:
        """The input-only part of a step, for inputs of shape ``(..., features)``.

        Must work on any number of leading axes, so that it can be applied to
        a whole ``(batch, time, features)`` sequence in one go.
        """
        raise NotImplementedError

    def recurrent_step(
        self, projected: Tensor, states: Sequence[Tensor], training: bool = False
    ) -> tuple[Tensor, list[Tensor]]:
        """The rest of the step: ``(projected input, states) -> (output, new states)``."""
        raise NotImplementedError

    def call(self, inputs: Tensor, states: Sequence[Tensor], training: bool = False) -> tuple[Tensor, list[Tensor]]:
        projected = self.project_inputs(self.dropped_inputs(inputs, training))
        return self.recurrent_step(projected, states, training=training)

    # -- dropout -------------------------------------------------------------

    def dropped_inputs(self, inputs: Tensor, training: bool) -> Tensor:
        """Applies the sequence's input dropout mask to one step or a whole sequence."""
        if training and self.dropout > 0.0:
            mask = self.get_dropout_mask(inputs)
            if len(inputs.shape) > len(mask.shape):  # a (batch, time, ...) sequence
                mask = ops.expand_dims(mask, 1)
            return inputs * mask
        return inputs

    def dropped_state(self, h: Tensor, training: bool) -> Tensor:
        if training and self.recurrent_dropout > 0.0:
            return h * self.get_recurrent_dropout_mask(h)
        return h

    # -- the cell contract -------------------------------------------------------

    def get_initial_state(self, batch_size: int | Tensor | None = None) -> list[Tensor]:
        return [ops.zeros((batch_size, size), dtype=self.compute_dtype) for size in self.state_size]

    def get_config(self) -> dict[str, Any]:
        config = {
            "units": self.units,
            "activation": keras.activations.serialize(self.activation),
            "recurrent_activation": keras.activations.serialize(self.recurrent_activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": initializers.serialize(self.recurrent_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "recurrent_regularizer": regularizers.serialize(self.recurrent_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "recurrent_constraint": constraints.serialize(self.recurrent_constraint),
            "bias_constraint": constraints.serialize(self.bias_constraint),
            "dropout": self.dropout,
            "recurrent_dropout": self.recurrent_dropout,
            "seed": self.seed,
        }
        return {**super().get_config(), **config}


def forget_bias_initializer(bias_initializer: Callable[..., Tensor], units: int, gates: int) -> Callable[..., Tensor]:
    """Bias initializer for ``gates`` fused gates, the 2nd (forget) set to one."""

    def initializer(shape: Shape, dtype: str | None = None) -> Tensor:
        parts = [bias_initializer((units,), dtype=dtype) for _ in range(gates)]
        parts[1] = ops.ones((units,), dtype=dtype)
        return ops.concatenate(parts)

    return initializer
