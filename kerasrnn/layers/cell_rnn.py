"""``CellRNN``: the generic base of kerasrnn's ready-made recurrent layers.

Keras' ``LSTM`` is ``RNN(LSTMCell(...))`` with the cell's arguments flattened
into the layer's constructor and config. ``CellRNN`` does the same for any
kerasrnn cell, so each ready layer (``PeepholeLSTM``, ``MUT1`` ...) is a
two-line subclass naming its ``cell_class``.

It also runs a leaner loop than ``keras.layers.RNN(cell)`` with the same math:
the loop body calls the cell directly rather than through ``Layer.__call__``
(whose per-call bookkeeping dominates an eager torch loop), and where it was
measured to pay, the cell's input projection is hoisted: applied to the whole
sequence before the loop (one large matmul or convolution instead of one per
step), leaving only ``recurrent_step`` in the loop. On JAX's CPU scan hoisting
was measured slower (a pure-JAX LSTM scan: 1.6x slower forward, 2x slower
gradient at 28 steps x 28 features, hidden 128), so it is off there.
On the torch backend, without a mask, the time loop itself is
``kerasrnn.backend.torch.rnn.rnn``: Keras' loop runs an extra step for the
output's shape and keeps its time index in a tensor; this one does neither.
``tests/layers/test_fast_path.py`` checks both loops against the plain cell in
``keras.layers.RNN``: outputs, states and gradients.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

import keras
from keras import tree
from keras.layers import InputSpec

from kerasrnn import backend as fast_paths
from kerasrnn.keras_private import backend_rnn
from kerasrnn.layers.recurrent_cell import RecurrentCell
from kerasrnn.layers.tensor_types import Identifier, Shape, Tensor

# Keyword arguments that belong to ``keras.layers.RNN`` rather than the cell.
_RNN_ARGS = (
    "return_sequences",
    "return_state",
    "go_backwards",
    "stateful",
    "unroll",
    "zero_output_for_mask",
)
# Base-layer arguments the cell shares with its layer (mixed precision etc.).
_SHARED_ARGS = ("dtype", "trainable")
# Base-layer config entries that describe the layer, not the cell.
_LAYER_ONLY_CONFIG = ("name", "trainable", "dtype")


def cell_argument_names(cell_class: type[RecurrentCell]) -> list[str]:
    """The constructor arguments of ``cell_class`` and its kerasrnn bases."""
    names = []
    for klass in cell_class.__mro__:
        if not (isinstance(klass, type) and issubclass(klass, RecurrentCell)):
            continue
        for parameter in inspect.signature(klass.__init__).parameters.values():
            if parameter.kind in (parameter.VAR_KEYWORD, parameter.VAR_POSITIONAL):
                continue
            if parameter.name != "self" and parameter.name not in names:
                names.append(parameter.name)
    return names


class CellRNN(keras.layers.RNN):
    """A ``keras.layers.RNN`` that builds its own cell of ``cell_class``.

    Every cell argument is a layer argument (and a config entry); the
    ``keras.layers.RNN`` arguments ``return_sequences``, ``return_state``,
    ``go_backwards``, ``stateful``, ``unroll`` and ``zero_output_for_mask``
    work as they do there. Inputs are ``(batch, time, features)``.
    """

    cell_class = None  # set by each subclass
    sequence_ndim = 3  # (batch, time, features)
    # Backend -> whether to hoist the input projection out of the time loop.
    HOIST_INPUT_PROJECTION = {"jax": False, "tensorflow": False, "torch": True}
    hoist_input_projection = None  # None: HOIST_INPUT_PROJECTION for the backend

    def __init__(self, *cell_args: Any, activity_regularizer: Identifier = None, **kwargs: Any) -> None:
        cell_names = self.cell_argument_names()
        unknown = set(kwargs) - set(cell_names) - set(_RNN_ARGS) - {"name", *_SHARED_ARGS}
        if unknown:
            raise TypeError(
                f"{type(self).__name__} got unexpected argument(s) "
                f"{sorted(unknown)}; it accepts the {self.cell_class.__name__} "
                f"arguments {cell_names} and the RNN arguments {list(_RNN_ARGS)}."
            )
        cell_kwargs = {name: kwargs.pop(name) for name in cell_names if name in kwargs}
        cell = self.make_cell(
            *cell_args,
            dtype=kwargs.get("dtype"),
            trainable=kwargs.get("trainable", True),
            name=self.cell_class.__name__.lower().replace("cell", "_cell"),
            **cell_kwargs,
        )
        super().__init__(cell, activity_regularizer=activity_regularizer, **kwargs)
        self.input_spec = InputSpec(ndim=self.sequence_ndim)

    @classmethod
    def cell_argument_names(cls) -> list[str]:
        return cell_argument_names(cls.cell_class)

    def make_cell(self, *args: Any, **kwargs: Any) -> RecurrentCell:
        return self.cell_class(*args, **kwargs)

    @property
    def units(self) -> int:
        return self.cell.units

    def whole_sequence(
        self, sequences: Tensor, initial_state: Sequence[Tensor], mask: Tensor | None, training: bool
    ) -> tuple[Tensor, Tensor, Sequence[Tensor]]:
        """The backend's whole-sequence recurrence of this layer's cell (``kerasrnn.backend``), Keras'
        ``backend.rnn`` contract; ``NotImplementedError`` where there is none (the default) or the case is
        one it does not take. Layers with one override this; :meth:`inner_loop` tries it first."""
        raise NotImplementedError

    def sequence_options(self, training: bool) -> dict[str, Any]:
        """The arguments every ``kerasrnn.backend`` whole-sequence function takes from the layer."""
        cell = self.cell
        return dict(
            project_inputs=lambda x: cell.project_inputs(cell.dropped_inputs(x, training)),
            return_sequences=self.return_sequences,
            go_backwards=self.go_backwards,
            unroll=self.unroll,
        )

    def inner_loop(
        self,
        sequences: Tensor,
        initial_state: Sequence[Tensor],
        mask: Tensor | None,
        training: bool = False,
    ) -> tuple[Tensor, Tensor, Sequence[Tensor]]:
        cell = self.cell
        # Recurrent dropout draws a mask per step inside the cell: only the generic loop has it.
        if not (training and getattr(cell, "recurrent_dropout", 0)):
            try:
                return self.whole_sequence(sequences, initial_state, mask, training)
            except NotImplementedError:
                pass
        backend = keras.backend.backend()
        hoist = self.hoist_input_projection
        if hoist is None:
            hoist = self.HOIST_INPUT_PROJECTION.get(backend, False)
        if hoist and type(cell).project_inputs is not RecurrentCell.project_inputs:
            inputs = cell.project_inputs(cell.dropped_inputs(sequences, training))
            cell_step = cell.recurrent_step
        else:
            inputs, cell_step = sequences, cell.call
        copy_states = backend == "torch" and self.stateful

        def step(inputs_t: Tensor, states: Sequence[Tensor]) -> tuple[Tensor, Sequence[Tensor]]:
            if copy_states:  # as keras.layers.RNN: keep torch autograd off in-place state updates
                states = tree.map_structure(keras.ops.copy, states)
            return cell_step(inputs_t, states, training=training)

        loop_arguments = dict(
            go_backwards=self.go_backwards,
            mask=mask,
            unroll=self.unroll,
            input_length=sequences.shape[1],
            zero_output_for_mask=self.zero_output_for_mask,
            return_all_outputs=self.return_sequences,
        )
        try:
            return fast_paths.rnn(step, inputs, list(initial_state), **loop_arguments)
        except NotImplementedError:
            return backend_rnn(step, inputs, list(initial_state), **loop_arguments)

    def build(self, sequences_shape: Shape, initial_state_shape: Sequence[Shape] | None = None) -> None:
        super().build(sequences_shape, initial_state_shape)
        # Once built, a different feature width is a clear error naming the
        # layer instead of a shape mismatch deep inside a matmul.
        self.input_spec = InputSpec(ndim=self.sequence_ndim, axes={-1: sequences_shape[-1]})

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.pop("cell")
        cell_config = self.cell.get_config()
        for key in _LAYER_ONLY_CONFIG:
            cell_config.pop(key, None)
        config["activity_regularizer"] = keras.regularizers.serialize(self.activity_regularizer)
        return {**config, **cell_config}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> CellRNN:
        return cls(**config)
