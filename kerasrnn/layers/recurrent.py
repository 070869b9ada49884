"""``Recurrent``: PyTorch's ``nn.RNN``/``nn.LSTM``/``nn.GRU`` parameter set as one Keras layer."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import keras

from kerasrnn.layers.esn import ESN
from kerasrnn.layers.fused_rnn import GRU, LSTM
from kerasrnn.layers.ind_rnn import IndRNN
from kerasrnn.layers.layer_norm_gru import LayerNormGRU
from kerasrnn.layers.layer_norm_lstm import LayerNormLSTM
from kerasrnn.layers.layer_norm_simple_rnn import LayerNormSimpleRNN
from kerasrnn.layers.mgu import MGU
from kerasrnn.layers.min_gru import MinGRU
from kerasrnn.layers.min_lstm import MinLSTM
from kerasrnn.layers.mut1 import MUT1
from kerasrnn.layers.mut2 import MUT2
from kerasrnn.layers.mut3 import MUT3
from kerasrnn.layers.nas import NAS
from kerasrnn.layers.peephole_lstm import PeepholeLSTM
from kerasrnn.layers.tensor_types import Shape, Tensor


def _simple_rnn(activation: str) -> Callable[..., keras.layers.RNN]:
    def make(units: int, **kwargs: Any) -> keras.layers.RNN:
        return keras.layers.SimpleRNN(units, activation=activation, **kwargs)

    return make


def _gru(reset_after: bool) -> Callable[..., keras.layers.RNN]:
    def make(units: int, **kwargs: Any) -> keras.layers.RNN:
        return GRU(units, reset_after=reset_after, **kwargs)

    return make


# Cell name -> a factory ``(units, **layer_kwargs) -> keras.layers.RNN``.
# kerasrnn's own layers are named by the rule class name -> snake_case ->
# file and cell name (``LayerNormLSTM``, ``layer_norm_lstm.py``,
# ``"layer_norm_lstm"``; ``--arch`` spells it with hyphens). Keras' own cells
# take PyTorch's names for the same cells (``torch.nn.RNNBase``'s modes
# ``RNN_TANH``, ``RNN_RELU``, ``LSTM``, ``GRU``), as ``Recurrent`` is PyTorch's
# parameter set; ``gru_cudnn`` names the reset-after form. They come through
# Keras' own layers (LSTM and GRU through our subclasses, which add the
# backends' fused kernels Keras lacks), so every fast path applies.
CELL_LAYERS: dict[str, Callable[..., keras.layers.RNN]] = {
    "rnn_tanh": _simple_rnn("tanh"),
    "rnn_relu": _simple_rnn("relu"),
    "lstm": LSTM,
    "gru": _gru(reset_after=False),  # Cho et al. (2014): reset before the recurrent matmul
    "gru_cudnn": _gru(reset_after=True),  # cuDNN / PyTorch form: reset after it
    "peephole_lstm": PeepholeLSTM,
    "layer_norm_lstm": LayerNormLSTM,
    "mut1": MUT1,
    "mut2": MUT2,
    "mut3": MUT3,
    "ind_rnn": IndRNN,
    "mgu": MGU,
    "min_gru": MinGRU,  # trains by a parallel scan over time
    "min_lstm": MinLSTM,
    "nas": NAS,
    "layer_norm_simple_rnn": LayerNormSimpleRNN,
    "layer_norm_gru": LayerNormGRU,  # reset-after form
    "esn": ESN,
}

# Former spelling -> cell name. ``Recurrent`` accepts both and stores (and
# saves) the cell name, so ``.keras`` files written before the rename load.
CELL_ALIASES: dict[str, str] = {
    "layernorm_lstm": "layer_norm_lstm",
}

MERGE_MODES = ("concat", "sum", "mul", "ave")

# Cell names whose layers take ``proj_size`` (torch.nn.LSTM's LSTM with projection).
PROJECTABLE_CELLS = ("lstm", "peephole_lstm")


@keras.saving.register_keras_serializable(package="kerasrnn")
class Recurrent(keras.layers.Layer):
    """A stack of (optionally bidirectional) recurrent layers, PyTorch style.

    Gives ``torch.nn.LSTM``'s parameter set in Keras form, for any cell:
    ``Recurrent("lstm", 128, num_layers=2, dropout=0.2, bidirectional=True)``
    is ``torch.nn.LSTM(input_size, 128, num_layers=2, dropout=0.2,
    bidirectional=True, batch_first=True)``.

    Args:
        cell: A cell name from :data:`CELL_LAYERS` (``"rnn_tanh"``,
            ``"rnn_relu"``, ``"lstm"``, ``"gru"`` (Cho form),
            ``"gru_cudnn"`` (reset after, PyTorch's form), ``"peephole_lstm"``,
            ``"layer_norm_lstm"``, ``"mut1"``, ``"mut2"``, ``"mut3"``,
            ``"ind_rnn"``, ``"mgu"``, ``"min_gru"``, ``"min_lstm"``, ``"nas"``, ``"layer_norm_simple_rnn"``,
            ``"layer_norm_gru"``, ``"esn"``; the former spellings in :data:`CELL_ALIASES`, e.g.
            ``"layernorm_lstm"``, are accepted and stored as the cell name)
            or a cell instance, which is copied (through its config) for
            every layer and direction.
        units: State size; required with a cell name, taken from the cell
            when a cell instance is given.
        num_layers: Number of stacked layers.
        dropout: Dropout rate on the outputs of every layer but the last
            (as PyTorch), active only in training.
        bidirectional: Run every layer forwards and backwards.
        merge_mode: How the two directions' outputs are combined: one of
            ``"concat"``, ``"sum"``, ``"mul"``, ``"ave"``.
        return_sequences: Return the last layer's output at every step
            ``(batch, time, features)`` rather than the last one.
        return_state: Also return the final states, a flat list in this
            order: layer 0 forward, layer 0 backward, layer 1 forward, ...;
            within one cell its states in the cell's order (``[h, c]`` for
            LSTM-type cells, ``[h]`` for the others). That is PyTorch's
            ``h_n`` order (layer-major, direction-minor).
        stateful: Carry the final states of a batch to the next batch.
        cell_kwargs: Extra arguments for every cell/layer (e.g.
            ``{"recurrent_dropout": 0.1}``); only with a cell name.
        proj_size: ``torch.nn.LSTM``'s ``proj_size`` (Sak et al. 2014): each
            layer's output and hidden state ``h`` projected to this width, its
            cell state ``c`` kept at ``units``; states ``[h, c]`` of sizes
            ``[proj_size, units]``. 0 (default): none. Only for the cells in
            :data:`PROJECTABLE_CELLS` (``"lstm"``, ``"peephole_lstm"``).
        residual: Residual connections between stacked layers (as GNMT, Wu et
            al. 2016): a layer's output becomes its recurrent output (after the
            between-layer dropout) plus its input, for every layer whose input
            width equals its output width (after the bidirectional merge). A
            layer whose widths differ, typically the first, is left without
            one (not projected), as in GNMT. The last layer gets one only with
            ``return_sequences`` (a final output has no step of its own to add
            its input to). The returned states are the recurrent layers' own.

    Call arguments:
        sequences: ``(batch, time, features)``.
        initial_state: Optional flat list of states, in the ``return_state``
            order.
        mask: Optional ``(batch, time)`` boolean mask; passed explicitly to
            every layer.
        training: Whether dropout is active.

    Example::

        layer = kerasrnn.layers.Recurrent("mut2", 64, num_layers=2,
                                          bidirectional=True, return_state=True)
        outputs, *states = layer(x)  # 4 states: l0 fwd h, l0 bwd h, l1 fwd h, l1 bwd h
    """

    def __init__(
        self,
        cell: str | keras.layers.Layer | dict[str, Any] = "lstm",
        units: int | None = None,
        num_layers: int = 1,
        dropout: float = 0.0,
        bidirectional: bool = False,
        merge_mode: str = "concat",
        return_sequences: bool = False,
        return_state: bool = False,
        stateful: bool = False,
        cell_kwargs: dict[str, Any] | None = None,
        proj_size: int = 0,
        residual: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if isinstance(cell, dict):  # a serialized cell, as get_config stores it
            cell = keras.saving.deserialize_keras_object(cell)
        if proj_size and not (isinstance(cell, str) and CELL_ALIASES.get(cell, cell) in PROJECTABLE_CELLS):
            where = f"cell={cell!r}" if isinstance(cell, str) else "a cell instance (give the cell its own projection)"
            raise ValueError(f"Recurrent: `proj_size` applies to the cells {PROJECTABLE_CELLS}; received {where}.")
        if isinstance(cell, str):
            cell = CELL_ALIASES.get(cell, cell)
            if cell not in CELL_LAYERS:
                raise ValueError(
                    f"Recurrent: unknown cell {cell!r}; expected one of {sorted(CELL_LAYERS)} or a cell instance."
                )
            if units is None:
                raise ValueError(f"Recurrent: `units` is required with cell={cell!r}.")
        else:
            if cell_kwargs:
                raise ValueError("Recurrent: `cell_kwargs` only applies to a cell name.")
            cell_units = getattr(cell, "units", None)
            if units is not None and cell_units is not None and units != cell_units:
                raise ValueError(f"Recurrent: units={units} but the given cell has units={cell_units}.")
            units = cell_units if units is None else units
            # Keep the cell as its config (a template copied for every layer
            # and direction) so that no unbuilt layer is tracked here.
            cell = keras.saving.serialize_keras_object(cell)
        if not isinstance(num_layers, int) or num_layers < 1:
            raise ValueError(f"Recurrent: `num_layers` must be an integer >= 1; received {num_layers!r}.")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"Recurrent: `dropout` must be in [0, 1); received {dropout!r}.")
        if merge_mode not in MERGE_MODES:
            raise ValueError(f"Recurrent: `merge_mode` must be one of {MERGE_MODES}; received {merge_mode!r}.")
        self.cell = cell
        self.units = units
        self.num_layers = num_layers
        self.dropout = float(dropout)
        self.bidirectional = bool(bidirectional)
        self.merge_mode = merge_mode
        self.return_sequences = return_sequences
        self.return_state = return_state
        self.stateful = stateful
        self.cell_kwargs = dict(cell_kwargs or {})
        self.proj_size = proj_size
        self.residual = bool(residual)
        self.supports_masking = True

        self.rnn_layers = [self._make_layer(index) for index in range(num_layers)]
        self.dropout_layer = keras.layers.Dropout(self.dropout, dtype=self.dtype_policy) if self.dropout > 0 else None

    @classmethod
    def from_torch(cls, module: Any, **kwargs: Any) -> Recurrent:
        """The ``Recurrent`` equivalent to a ``torch.nn.RNN``/``LSTM``/``GRU``, with its weights copied.

        ``nn.RNN`` becomes cell ``"rnn_tanh"``/``"rnn_relu"``, ``nn.LSTM``
        ``"lstm"`` (with its ``proj_size``), ``nn.GRU`` ``"gru_cudnn"``;
        ``num_layers``, ``bidirectional``, ``dropout`` and ``bias`` carry over.
        Gate mapping: PyTorch's LSTM i, f, g, o is Keras' i, f, c, o (same
        order; the two biases are summed, Keras' LSTM and SimpleRNN have one);
        PyTorch's GRU r, z, n is Keras' z, r, h (blocks reordered; both biases
        kept, as Keras' reset-after GRU has two). The layer takes
        ``(batch, time, features)`` whatever the module's ``batch_first``.
        ``kwargs`` go to ``Recurrent`` (``return_sequences`` defaults to
        ``True``; ``return_state=True`` adds ``h_n`` (and ``c_n``) as the flat
        list ``[h, (c,) ...]`` in ``h_n``'s layer/direction order). Details in
        :mod:`kerasrnn.layers.torch_weights`, which imports torch when this is
        called (and only then).

        Example::

            lstm = torch.nn.LSTM(16, 32, num_layers=2, bidirectional=True, proj_size=8, batch_first=True)
            layer = kerasrnn.layers.Recurrent.from_torch(lstm, return_state=True)
            outputs, *states = layer(x)  # outputs == lstm(x)[0]; states: h, c per layer and direction
        """
        from kerasrnn.layers.torch_weights import recurrent_from_torch

        return recurrent_from_torch(module, recurrent_class=cls, **kwargs)

    def _make_layer(self, index: int) -> keras.layers.RNN | keras.layers.Bidirectional:
        last = index == self.num_layers - 1
        options = dict(
            return_sequences=self.return_sequences if last else True,
            return_state=self.return_state,
            stateful=self.stateful,
            dtype=self.dtype_policy,
        )
        if not self.bidirectional:
            return self._make_rnn(name=f"layer_{index}", **options)
        # Both directions are made here rather than copied by Bidirectional
        # through serialize/deserialize, which can hand back the forward layer
        # itself when a model is being loaded with shared objects.
        return keras.layers.Bidirectional(
            self._make_rnn(name=f"forward_{index}", **options),
            backward_layer=self._make_rnn(name=f"backward_{index}", go_backwards=True, **options),
            merge_mode=self.merge_mode,
            name=f"bidirectional_{index}",
            dtype=self.dtype_policy,
        )

    def _make_rnn(self, **options: Any) -> keras.layers.RNN:
        if isinstance(self.cell, str):
            if self.proj_size:
                options["proj_size"] = self.proj_size
            return CELL_LAYERS[self.cell](self.units, **self.cell_kwargs, **options)
        cell = keras.saving.deserialize_keras_object(self.cell)
        cell.dtype_policy = options["dtype"]
        return keras.layers.RNN(cell, **options)

    @property
    def _first_cell(self) -> keras.Layer:
        layer = self.rnn_layers[0]
        return layer.forward_layer.cell if self.bidirectional else layer.cell

    def _state_sizes(self) -> list[int]:
        state_size = self._first_cell.state_size
        return list(state_size) if isinstance(state_size, (list, tuple)) else [state_size]

    @property
    def states_per_cell(self) -> int:
        return len(self._state_sizes())

    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    def _output_width(self) -> int:
        """The cell's output width (``units``, or a projection's), doubled by a concatenating merge."""
        width = getattr(self._first_cell, "output_size", None) or self.units
        if self.bidirectional and self.merge_mode == "concat":
            return 2 * width
        return width

    def build(self, sequences_shape: Shape, initial_state_shape: Sequence[Shape] | None = None) -> None:
        if len(sequences_shape) != 3:
            raise ValueError(
                f"Recurrent '{self.name}' expects inputs of shape (batch, time, "
                f"features); received {tuple(sequences_shape)}."
            )
        shape = tuple(sequences_shape)
        for layer in self.rnn_layers:
            layer.build(shape)
            shape = (shape[0], shape[1], self._output_width())
        self.input_spec = keras.layers.InputSpec(ndim=3, axes={-1: sequences_shape[-1]})

    def call(
        self,
        sequences: Tensor,
        initial_state: Sequence[Tensor] | None = None,
        mask: Tensor | None = None,
        training: bool | None = None,
    ) -> Tensor | list[Tensor]:
        per_layer = self.num_directions * self.states_per_cell
        if initial_state is not None:
            initial_state = list(initial_state)
            expected = self.num_layers * per_layer
            if len(initial_state) != expected:
                raise ValueError(
                    f"Recurrent '{self.name}' expects {expected} initial states "
                    f"({self.num_layers} layer(s) x {self.num_directions} "
                    f"direction(s) x {self.states_per_cell} state(s)); received "
                    f"{len(initial_state)}."
                )
        x = sequences
        final_states = []
        for index, layer in enumerate(self.rnn_layers):
            layer_state = None
            if initial_state is not None:
                layer_state = initial_state[index * per_layer : (index + 1) * per_layer]
            outputs = layer(x, initial_state=layer_state, mask=mask, training=training)
            if self.return_state:
                y, *states = outputs
                final_states.extend(states)
            else:
                y = outputs
            last = index == self.num_layers - 1
            if self.dropout_layer is not None and not last:
                y = self.dropout_layer(y, training=training)
            if self.residual and (self.return_sequences or not last) and x.shape[-1] == self._output_width():
                y = y + x
            x = y
        if self.return_state:
            return [x, *final_states]
        return x

    def compute_mask(self, sequences: Tensor, mask: Tensor | None = None) -> Tensor | list[Tensor | None] | None:
        output_mask = mask if self.return_sequences else None
        if self.return_state:
            n_states = self.num_layers * self.num_directions * self.states_per_cell
            return [output_mask] + [None] * n_states
        return output_mask

    def compute_output_shape(
        self, sequences_shape: Shape, initial_state_shape: Sequence[Shape] | None = None
    ) -> tuple[int | None, ...] | list[tuple[int | None, ...]]:
        batch = sequences_shape[0]
        output_shape = (
            (batch, sequences_shape[1], self._output_width())
            if self.return_sequences
            else (batch, self._output_width())
        )
        if not self.return_state:
            return output_shape
        per_cell = [(batch, size) for size in self._state_sizes()]
        return [output_shape] + per_cell * (self.num_layers * self.num_directions)

    def reset_state(self) -> None:
        for layer in self.rnn_layers:
            if self.bidirectional:
                layer.forward_layer.reset_state()
                layer.backward_layer.reset_state()
            else:
                layer.reset_state()

    def get_config(self) -> dict[str, Any]:
        config = {
            "cell": self.cell,
            "units": self.units,
            "num_layers": self.num_layers,
            "dropout": self.dropout,
            "bidirectional": self.bidirectional,
            "merge_mode": self.merge_mode,
            "return_sequences": self.return_sequences,
            "return_state": self.return_state,
            "stateful": self.stateful,
            "cell_kwargs": self.cell_kwargs,
            "proj_size": self.proj_size,
            "residual": self.residual,
        }
        return {**super().get_config(), **config}
