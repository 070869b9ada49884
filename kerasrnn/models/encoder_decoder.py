"""``EncoderDecoder``: a recurrent sequence-to-sequence model, with or without attention.

The model of Sutskever et al. (2014, "Sequence to Sequence Learning with Neural
Networks") and Cho et al. (2014, "Learning Phrase Representations using RNN
Encoder-Decoder"), with the attention of Bahdanau et al. (2015, "Neural Machine
Translation by Jointly Learning to Align and Translate") or Luong et al. (2015,
"Effective Approaches to Attention-based Neural Machine Translation") through
:class:`~kerasrnn.layers.AttentionCell` (Luong's input feeding).

For a source ``x_1..x_S`` (ids, right-padded with 0) and a target
``y_0 = BOS, y_1..y_T``:

.. math::

    e_i &= E_x[x_i]                                   \\\\
    m_{1..S}, s^{enc} &= \\mathrm{Encoder}(e_{1..S})      \\quad\\text{(any ``--arch``: bi, stacked; pads masked)} \\\\
    s_0^{(l,k)} &= \\tanh(W_b^{(l,k)} [\\overrightarrow{s}^{(l,k)}; \\overleftarrow{s}^{(l,k)}] + b_b^{(l,k)})
                  \\quad\\text{(bidirectional; } s_0 = s^{enc}\\text{ one-way)} \\\\
    o_t, s_t &= \\mathrm{Decoder}([E_y[y_{t-1}]; a_{t-1}], s_{t-1})  \\quad\\text{(one-way, same cell)} \\\\
    c_t, \\alpha_t &= \\mathrm{attention}(o_t, m, \\text{mask})    \\\\
    a_t &= \\tanh(W_c [o_t; c_t])                        \\quad\\text{(}a_t = o_t\\text{ without attention)} \\\\
    p(y_t \\mid y_{<t}, x) &= \\mathrm{softmax}(W_o a_t + b_o)

The bridge (:math:`W_b`) gives every decoder layer and state ``k`` (``h``; ``h``
and ``c`` for LSTM-type cells) its initial value from the encoder's final state
of the same layer, both directions concatenated: a ``Dense(units, tanh)`` per
layer and state for a bidirectional encoder, the identity for a one-way one
(same widths). With ``attention="none"`` the decoder sees the source only
through this bridge (Sutskever's and Cho's model; Cho et al. also feed the
summary at every step, which this model does not).

Weight tying (Press & Wolf 2017, "Using the Output Embedding to Improve
Language Models"): with ``tied_output=True`` the output layer is the target
embedding's transpose, :math:`W_o = E_y^\\top` plus its own bias. When the
decoder's output width (``units``) is not ``embedding_dim``, a linear
projection ``Dense(embedding_dim, use_bias=False)`` comes first (as Press &
Wolf's projection P in their translation models).

Dropout (``dropout``): on the source and target embeddings, between stacked
encoder layers and stacked decoder layers without attention (``Recurrent``'s,
as PyTorch), and on the decoder output before the projection; active only in
training. With attention the stacked cells run inside one
``keras.layers.StackedRNNCells`` and have no dropout between them.

Decoding one step at a time (:meth:`EncoderDecoder.decode_step`) runs the
decoder's cells on the same weights as the teacher-forced call (the stack's
``keras.layers.RNN`` loop, or its fused kernel, runs the very same cells), so
decoding sees exactly the trained model. :mod:`kerasrnn.decoding` uses it.

Architectures: any recurrent ``--arch`` (``gru``, ``bilstm``, ``mut1``,
``esn``...). ``tcn`` (a causal convolution has no recurrent state to hand to a
decoder, nor a step function) and ``conv-lstm`` (its states are feature maps of
frames, not vectors of token sequences) are refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
from keras import ops

from kerasrnn.data.vocabulary import PAD_ID  # 0: Embedding(mask_zero=True) masks it
from kerasrnn.errors import ConfigError
from kerasrnn.layers.recurrent import CELL_LAYERS, Recurrent
from kerasrnn.layers.tensor_types import Shape, Tensor
from kerasrnn.models.initialization import INITIALIZATIONS, dense_initializers, recurrent_initializers
from kerasrnn.registry import architecture as architecture_of

ATTENTIONS = ("none", "luong", "bahdanau")
#: Score functions of each attention (``attention_score``); the first is the default.
ATTENTION_SCORES = {"luong": ("general", "dot", "scaled"), "bahdanau": ("additive", "normalized")}


def _cell_template(cell: str, units: int, cell_kwargs: dict[str, Any]) -> keras.layers.Layer:
    """A fresh cell of ``Recurrent``'s cell name ``cell``, configured as ``Recurrent`` configures it."""
    return CELL_LAYERS[cell](units, **cell_kwargs).cell


def _state_sizes(cell: keras.layers.Layer) -> list[int]:
    size = cell.state_size
    return list(size) if isinstance(size, (list, tuple)) else [size]


def _as_list(states: Any) -> list[Tensor]:
    return list(states) if isinstance(states, (list, tuple)) else [states]


@keras.saving.register_keras_serializable(package="kerasrnn")
class TiedOutput(keras.layers.Layer):
    """Logits from a tied embedding: ``inputs @ embeddings^T + bias`` (Press & Wolf 2017).

    Owns only the bias; the embedding matrix ``(vocab, dim)`` is given at every
    call, so it stays the embedding layer's one variable.
    """

    def __init__(self, vocab_size: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.vocab_size = vocab_size
        self.supports_masking = True

    def build(self, inputs_shape: Shape, embeddings_shape: Shape | None = None) -> None:
        self.bias = self.add_weight(shape=(self.vocab_size,), name="bias", initializer="zeros")

    def call(self, inputs: Tensor, embeddings: Tensor) -> Tensor:
        return ops.matmul(inputs, ops.transpose(ops.cast(embeddings, inputs.dtype))) + self.bias

    def compute_output_shape(self, inputs_shape: Shape, embeddings_shape: Shape | None = None) -> tuple:
        return (*inputs_shape[:-1], self.vocab_size)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "vocab_size": self.vocab_size}


class DecodeStep(keras.layers.Layer):
    """:meth:`EncoderDecoder.decode_step` as one layer, for :meth:`EncoderDecoder.step_model`.

    One operation in the functional graph (the decoder's cells, called one by
    one, would repeat their default names, which a functional model refuses).
    Returns ``[logits, *states]``, and the alignment last with attention. Not
    serializable on its own: it exists for export, over a built model.
    """

    def __init__(self, model: EncoderDecoder, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.model = model
        self.built = True

    def call(
        self, token: Tensor, states: Sequence[Tensor], memory: Tensor | None = None, memory_mask: Tensor | None = None
    ) -> list[Tensor]:
        logits, new_states, alignment = self.model.decode_step(token, states, memory, memory_mask)
        return [logits, *new_states] + ([] if alignment is None else [alignment])


@keras.saving.register_keras_serializable(package="kerasrnn")
class EncoderDecoder(keras.Model):
    """A recurrent encoder-decoder (sequence to sequence), with or without attention.

    Args:
        arch: Encoder architecture, any recurrent ``--arch`` name (``"gru"``,
            ``"bilstm"``, ``"mut1"``...); the decoder uses the same cell,
            one-way.
        source_vocab_size: Source vocabulary size (ids ``0..V-1``; 0 is padding).
        target_vocab_size: Target vocabulary size (the logits' width).
        units: State size of every encoder and decoder layer (and of the
            attentional vector).
        layers: Stacked layers in the encoder and in the decoder.
        embedding_dim: Width of the source and target embeddings.
        dropout: Dropout rate (see the module docstring for where).
        attention: ``"none"``, ``"luong"`` or ``"bahdanau"``.
        attention_score: Luong's ``"general"`` (default), ``"dot"`` or
            ``"scaled"``; Bahdanau's ``"additive"`` (default) or
            ``"normalized"`` (weight-normalized). ``None``: the default of the
            chosen attention. Ignored (stored as ``None``) without attention.
        shared_embeddings: One embedding matrix for source and target (needs
            equal vocabulary sizes: a joint vocabulary).
        tied_output: The output layer is the target embedding's transpose
            (Press & Wolf 2017), after a linear projection to
            ``embedding_dim`` when ``units`` differs.
        init: ``"keras"`` or ``"pytorch"`` initialization of the recurrent and
            dense layers (:mod:`kerasrnn.models.initialization`).
        source_embeddings: Optional float matrix ``(source_vocab_size,
            embedding_dim)`` of pretrained vectors (they are trained further).
        target_embeddings: The same for the target vocabulary.

    The matrices are initial weights: ``get_config`` stores ``None`` for them
    (the trained values are in the saved weights).

    Call arguments:
        inputs: ``[source, target_in]``, int ``(batch, S)`` and ``(batch, T)``
            (teacher forcing: ``target_in = target[:, :-1]``).
        training: Whether dropout is active.

    Returns:
        Logits ``(batch, T, target_vocab_size)``, masked where ``target_in``
        is padding.

    Example::

        model = EncoderDecoder("bigru", source_vocab_size=5000, target_vocab_size=6000, attention="luong")
        logits = model([source, target[:, :-1]])
        memory, memory_mask, states = model.encode(source)
        logits, states, alignment = model.decode_step(tokens, states, memory, memory_mask)
    """

    def __init__(
        self,
        arch: str = "gru",
        source_vocab_size: int | None = None,
        target_vocab_size: int | None = None,
        units: int = 128,
        layers: int = 1,
        embedding_dim: int = 64,
        dropout: float = 0.0,
        attention: str = "none",
        attention_score: str | None = None,
        shared_embeddings: bool = False,
        tied_output: bool = False,
        init: str = "keras",
        source_embeddings: Any = None,
        target_embeddings: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        try:
            architecture = architecture_of(arch)
        except ConfigError as error:
            raise ValueError(str(error)) from None
        if architecture.cell is None:
            why = {
                "tcn": "a causal convolution has no recurrent state to hand to a decoder and no one-step form",
                "conv-lstm": "its states are feature maps of frames, not vectors of a token sequence",
            }.get(architecture.name, "it has no recurrent cell")
            raise ValueError(f"--arch {architecture.name} cannot be an encoder-decoder: {why}; use a recurrent arch")
        for name, value in (("source_vocab_size", source_vocab_size), ("target_vocab_size", target_vocab_size)):
            if not isinstance(value, (int, np.integer)) or value < 4:
                raise ValueError(f"{name} must be an integer >= 4 (pad, unk, bos, eos and words); got {value!r}")
        if not isinstance(layers, int) or layers < 1:
            raise ValueError(f"layers must be an integer >= 1; got {layers!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1); got {dropout!r}")
        if attention not in ATTENTIONS:
            raise ValueError(f"unknown attention {attention!r}; expected one of: {', '.join(ATTENTIONS)}")
        if attention == "none":
            attention_score = None
        else:
            scores = ATTENTION_SCORES[attention]
            attention_score = scores[0] if attention_score is None else attention_score
            if attention_score not in scores:
                raise ValueError(
                    f"unknown {attention} attention score {attention_score!r}; expected one of: {', '.join(scores)}"
                )
        if attention_score in ("dot", "scaled") and architecture.bidirectional:
            raise ValueError(
                f"luong attention score {attention_score!r} needs the memory as wide as the decoder state, but a "
                f"bidirectional encoder's is twice as wide; use attention_score='general' or a one-way arch"
            )
        if init not in INITIALIZATIONS:
            raise ValueError(f"unknown initialization {init!r}; expected one of: {', '.join(INITIALIZATIONS)}")
        if shared_embeddings and source_vocab_size != target_vocab_size:
            raise ValueError(
                f"shared_embeddings needs one vocabulary for source and target; got sizes "
                f"{source_vocab_size} and {target_vocab_size}"
            )
        self.arch = architecture.name
        self.source_vocab_size = int(source_vocab_size)
        self.target_vocab_size = int(target_vocab_size)
        self.units = units
        self.num_layers = layers
        self.embedding_dim = embedding_dim
        self.dropout = float(dropout)
        self.attention = attention
        self.attention_score = attention_score
        self.shared_embeddings = bool(shared_embeddings)
        self.tied_output = bool(tied_output)
        self.init = init
        self.bidirectional = architecture.bidirectional
        cell_name = architecture.cell
        cell_kwargs = recurrent_initializers(init, units, cell_name)
        self.cell_name = cell_name
        self._building = False

        self.source_embedding = keras.layers.Embedding(
            self.source_vocab_size, embedding_dim, mask_zero=True, name="source_embedding"
        )
        if self.shared_embeddings:
            self.target_embedding = self.source_embedding
        else:
            self.target_embedding = keras.layers.Embedding(
                self.target_vocab_size, embedding_dim, mask_zero=True, name="target_embedding"
            )
        self._load_embeddings(self.source_embedding, source_embeddings, "source_embeddings")
        self._load_embeddings(self.target_embedding, target_embeddings, "target_embeddings")
        self.embedding_dropout = keras.layers.Dropout(self.dropout, name="embedding_dropout") if dropout else None
        self.output_dropout = keras.layers.Dropout(self.dropout, name="output_dropout") if dropout else None

        self.encoder = Recurrent(
            cell_name,
            units,
            num_layers=layers,
            dropout=dropout,
            bidirectional=self.bidirectional,
            return_sequences=True,
            return_state=True,
            cell_kwargs=cell_kwargs,
            name="encoder",
        )
        self.state_sizes = _state_sizes(_cell_template(cell_name, units, cell_kwargs))
        self.bridge = []
        if self.bidirectional:
            self.bridge = [
                keras.layers.Dense(
                    size, activation="tanh", name=f"bridge_{layer}_{k}", **dense_initializers(init, 2 * size)
                )
                for layer in range(layers)
                for k, size in enumerate(self.state_sizes)
            ]

        if attention == "none":
            self.decoder = Recurrent(
                cell_name,
                units,
                num_layers=layers,
                dropout=dropout,
                return_sequences=True,
                cell_kwargs=cell_kwargs,
                name="decoder",
            )
            self.attention_cell = None
            self.attention_layer = None
        else:
            from kerasrnn.layers.attention_cell import AttentionCell

            cells = [_cell_template(cell_name, units, cell_kwargs) for _ in range(layers)]
            inner = cells[0] if layers == 1 else keras.layers.StackedRNNCells(cells, name="decoder_cells")
            self.attention_layer = self._make_attention(attention, attention_score, units)
            self.attention_cell = AttentionCell(inner, self.attention_layer, name="attention_cell")
            self.decoder = keras.layers.RNN(self.attention_cell, return_sequences=True, name="decoder")
        output_width = units
        self.tied_projection = None
        if self.tied_output:
            if output_width != embedding_dim:
                self.tied_projection = keras.layers.Dense(embedding_dim, use_bias=False, name="tied_projection")
            self.output_layer = TiedOutput(self.target_vocab_size, name="output")
        else:
            self.output_layer = keras.layers.Dense(
                self.target_vocab_size, name="output", **dense_initializers(init, output_width)
            )

    @staticmethod
    def _make_attention(attention: str, score: str, units: int) -> keras.layers.Layer:
        if attention == "luong":
            from kerasrnn.layers.luong_attention import LuongAttention

            return LuongAttention(score=score, name="attention")
        from kerasrnn.layers.bahdanau_attention import BahdanauAttention

        return BahdanauAttention(units, normalize=score == "normalized", name="attention")

    def _load_embeddings(self, layer: keras.layers.Embedding, matrix: Any, name: str) -> None:
        if matrix is None:
            return
        matrix = np.asarray(matrix, dtype="float32")
        expected = (layer.input_dim, layer.output_dim)
        if matrix.shape != expected:
            raise ValueError(
                f"{name} must be a matrix of shape {expected} (vocabulary, embedding_dim); got {matrix.shape}"
            )
        if not layer.built:
            layer.build((None, None))
        layer.embeddings.assign(matrix)

    # ----------------------------------------------------------------- layers

    @property
    def states_per_layer(self) -> int:
        return len(self.state_sizes)

    def _decoder_cells(self) -> list[keras.layers.Layer]:
        return [layer.cell for layer in self.decoder.rnn_layers]

    def _bridge_states(self, encoder_states: Sequence[Tensor]) -> list[Tensor]:
        """The decoder's initial states (per layer, per state) from the encoder's final states."""
        if not self.bidirectional:
            return list(encoder_states)
        per_direction = self.states_per_layer
        states = []
        for layer in range(self.num_layers):
            offset = 2 * layer * per_direction
            for k in range(per_direction):
                forward, backward = encoder_states[offset + k], encoder_states[offset + per_direction + k]
                dense = self.bridge[layer * per_direction + k]
                states.append(dense(ops.concatenate([forward, backward], axis=-1)))
        return states

    def _embed(self, layer: keras.layers.Embedding, ids: Tensor, training: bool | None) -> Tensor:
        x = layer(ids)
        if self.embedding_dropout is not None:
            x = self.embedding_dropout(x, training=training)
        return x

    def _logits(self, outputs: Tensor, training: bool | None) -> Tensor:
        if self.output_dropout is not None:
            outputs = self.output_dropout(outputs, training=training)
        if not self.tied_output:
            return self.output_layer(outputs)
        if self.tied_projection is not None:
            outputs = self.tied_projection(outputs)
        return self.output_layer(outputs, self.target_embedding.embeddings)

    def memory_keys(self, memory: Tensor) -> Tensor | None:
        """The attention's keys of ``memory`` (computed once per source), or ``None`` without attention."""
        if self.attention_layer is None:
            return None
        return self.attention_layer.memory_keys(memory)

    # ------------------------------------------------------------------ calls

    def encode(self, source: Tensor, training: bool | None = False) -> tuple[Tensor, Tensor, list[Tensor]]:
        """Runs the encoder and the bridge.

        Args:
            source: int ``(batch, S)``, right-padded with 0.

        Returns:
            ``(memory, memory_mask, states)``: the encoder's outputs ``(batch,
            S, units or 2 units)``, float32 ``(batch, S)`` (1 real step, 0
            padding), and the decoder's initial states, a flat list: every
            decoder layer's states in the cell's order (``[h]`` or ``[h, c]``),
            layer by layer; with attention followed by the attentional vector
            ``a_0`` ``(batch, units)`` and the alignment ``alpha_0`` ``(batch,
            S)`` (zeros).
        """
        self.ensure_built()
        mask = ops.not_equal(source, PAD_ID)
        x = self._embed(self.source_embedding, source, training)
        memory, *encoder_states = self.encoder(x, mask=mask, training=training)
        # Padded steps' outputs as zeros (a fresh tensor, without the Keras mask the layer attached).
        memory = ops.where(ops.expand_dims(mask, -1), memory, ops.zeros_like(memory))
        states = self._bridge_states(encoder_states)
        memory_mask = ops.cast(mask, memory.dtype)
        if self.attention_cell is not None:
            attentional = ops.zeros_like(states[0][:, :1]) * ops.zeros((1, self.units), dtype=memory.dtype)
            states = [*states, attentional, ops.zeros_like(memory_mask)]
        return memory, memory_mask, states

    def _attention_cell_states(
        self, states: Sequence[Tensor], memory: Tensor, memory_mask: Tensor, keys: Tensor | None
    ) -> list[Tensor]:
        """The attention cell's full state list: the decoder states, then the memory, its keys and mask.

        The memory and keys ride flattened to ``(batch, S * width)``, as
        :class:`~kerasrnn.layers.AttentionCell` carries them.
        """
        cell = self.attention_cell
        if cell.memory_shape is None:
            cell.build_attention(memory.shape)
        keys = self.attention_layer.memory_keys(memory) if keys is None else keys
        batch = ops.shape(memory)[0]
        return [
            *states,
            ops.reshape(memory, (batch, -1)),
            ops.reshape(keys, (batch, -1)),
            ops.cast(memory_mask, memory.dtype),
        ]

    def call(self, inputs: Sequence[Tensor], training: bool | None = None) -> Tensor:
        source, target_in = inputs
        memory, memory_mask, states = self.encode(source, training=training)
        target_mask = ops.not_equal(target_in, PAD_ID)
        y = self._embed(self.target_embedding, target_in, training)
        if self.attention_cell is None:
            outputs = self.decoder(y, initial_state=states, mask=target_mask, training=training)
        else:
            inner = states[: self.num_layers * self.states_per_layer]
            initial = self.attention_cell.initial_states(inner, memory, memory_mask=memory_mask)
            outputs = self.decoder(y, initial_state=initial, mask=target_mask, training=training)
        return self._logits(outputs, training)

    def decode_step(
        self,
        tokens: Tensor,
        states: Sequence[Tensor],
        memory: Tensor,
        memory_mask: Tensor,
        keys: Tensor | None = None,
    ) -> tuple[Tensor, list[Tensor], Tensor | None]:
        """One decoder step, exactly the teacher-forced model's computation at that step.

        Args:
            tokens: int ``(batch,)``, the previous target token (``BOS`` first).
            states: The decoder states, as :meth:`encode` returns them.
            memory: :meth:`encode`'s memory.
            memory_mask: :meth:`encode`'s memory mask.
            keys: Optional :meth:`memory_keys` of ``memory``, to compute them
                once per source rather than at every step.

        Returns:
            ``(logits (batch, V), new states, alignment)``: the alignment
            ``(batch, S)`` over the source steps, ``None`` without attention.
        """
        self.ensure_built()
        # The embedding's lookup without its padding mask (a step has no time axis to mask).
        x = ops.take(self.target_embedding.embeddings, ops.cast(tokens, "int32"), axis=0)
        states = list(states)
        if self.attention_cell is None:
            new_states = []
            n = self.states_per_layer
            for index, cell in enumerate(self._decoder_cells()):
                x, cell_states = cell(x, states[index * n : (index + 1) * n], training=False)
                new_states.extend(_as_list(cell_states))
            alignment = None
        else:
            cell_states = self._attention_cell_states(states, memory, memory_mask, keys)
            x, cell_states = self.attention_cell(x, cell_states, training=False)
            new_states = list(cell_states)[: len(states)]
            alignment = new_states[-1]
        return self._logits(x, training=False), new_states, alignment

    def ensure_built(self) -> None:
        """Creates every weight of a model not called yet (one first used through :meth:`encode`)."""
        if not self.built and not self._building:
            self._building = True
            try:
                self.build([(None, None), (None, None)])
            finally:
                self._building = False

    def build(self, input_shape: Sequence[Shape]) -> None:
        source_shape, target_shape = input_shape
        self.call(
            [
                keras.KerasTensor(tuple(source_shape), dtype="int32"),
                keras.KerasTensor(tuple(target_shape), dtype="int32"),
            ]
        )
        self.built = True

    # ------------------------------------------------------------ export models

    def encoder_model(self) -> keras.Model:
        """A functional model over the same layers: ``source -> [memory, memory_mask, *states]``."""
        self.ensure_built()
        source = keras.Input((None,), dtype="int32", name="source")
        memory, memory_mask, states = self.encode(source)
        return keras.Model(source, [memory, memory_mask, *states], name=f"{self.name}_encoder")

    def step_model(self) -> keras.Model:
        """A functional model of one decoder step over the same layers.

        With attention: ``[token, *states, memory, memory_mask] -> [logits,
        *states, alignment]``. Without: ``[token, *states] -> [logits,
        *states]`` (the step reads no memory and has no alignment).
        ``token`` is int32 ``(batch,)``; the states are :meth:`encode`'s.
        """
        self.ensure_built()
        token = keras.Input((), dtype="int32", name="token")
        sizes = [size for _ in range(self.num_layers) for size in self.state_sizes]
        states = [keras.Input((size,), name=f"state_{index}") for index, size in enumerate(sizes)]
        step = DecodeStep(self, name="decode_step")
        if self.attention_cell is None:
            logits, *new_states = step(token, states)
            return keras.Model([token, *states], [logits, *new_states], name=f"{self.name}_step")
        memory_width = self.encoder.compute_output_shape((None, None, self.embedding_dim))[0][-1]
        states += [keras.Input((self.units,), name="attentional"), keras.Input((None,), name="alignment")]
        memory = keras.Input((None, memory_width), name="memory")
        memory_mask = keras.Input((None,), name="memory_mask")
        logits, *new_states, alignment = step(token, states, memory, memory_mask)
        return keras.Model(
            [token, *states, memory, memory_mask], [logits, *new_states, alignment], name=f"{self.name}_step"
        )

    def get_config(self) -> dict[str, Any]:
        config = {
            "arch": self.arch,
            "source_vocab_size": self.source_vocab_size,
            "target_vocab_size": self.target_vocab_size,
            "units": self.units,
            "layers": self.num_layers,
            "embedding_dim": self.embedding_dim,
            "dropout": self.dropout,
            "attention": self.attention,
            "attention_score": self.attention_score,
            "shared_embeddings": self.shared_embeddings,
            "tied_output": self.tied_output,
            "init": self.init,
            # Initial weights only: the trained matrices are in the saved weights.
            "source_embeddings": None,
            "target_embeddings": None,
        }
        return {**super().get_config(), **config}
