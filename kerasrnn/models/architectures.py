"""The architecture registry: ``build_model(arch, task, input_shape, num_outputs)``.

Every recurrent architecture is a :class:`~kerasrnn.layers.Recurrent` stack
(so ``bi`` variants, stacking, inter-layer dropout and merge modes come from
one place) between a task-specific input and head:

========================  =====================================================
task                      model
========================  =====================================================
``classification``        sequence -> recurrent stack -> Dense(softmax)
                          (many-to-one)
``labelling``             sequence -> recurrent stack (every step) ->
                          Dense(softmax) per step (many-to-many)
``regression``            sequence -> recurrent stack -> Dense(linear)
                          (forecasting)
``language_model``        token ids -> Embedding -> recurrent stack (every
                          step) -> Dense(logits) per step
``text_classification``   word ids (0 = padding) -> Embedding (masking the
                          padding) -> recurrent stack -> Dense(softmax)
========================  =====================================================

Sequence to sequence (encoder, decoder, attention) is
:class:`kerasrnn.models.encoder_decoder.EncoderDecoder`.

``conv-lstm`` reads frame sequences: ``(time, rows, cols, channels)`` through
:class:`~kerasrnn.layers.ConvLSTM2D`; a plain ``(time, features)`` sequence
is read as 1-D frames ``(time, features, 1)`` through
:class:`~kerasrnn.layers.ConvLSTM1D` (MNIST rows become 28-pixel frames).

``tcn`` replaces the recurrent stack by a :class:`~kerasrnn.layers.TCN`:
``units`` channels, ``layers`` residual blocks of ``kernel_size``; its
receptive field is logged, and a many-to-one model whose receptive field is
shorter than its (fixed) sequence length gets a warning naming the
``layers`` that would cover it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

import keras
import numpy as np

from kerasrnn.data.sequence_data import PAD_VALUE
from kerasrnn.errors import ConfigError
from kerasrnn.layers import ConvLSTM1D, ConvLSTM2D, Recurrent
from kerasrnn.layers.frames import FeaturesAsFrames, FlattenFrames
from kerasrnn.layers.tcn import TCN, receptive_field
from kerasrnn.models.initialization import (
    INITIALIZATIONS,
    dense_initializers,
    recurrent_initializers,
)
from kerasrnn.registry import ARCHITECTURE_DESCRIPTIONS, Architecture
from kerasrnn.registry import architecture as architecture_of

#: Architecture name -> one-line description (the registry's, here for ``kerasrnn.models``).
ARCHITECTURES = ARCHITECTURE_DESCRIPTIONS

TASKS = ("classification", "labelling", "regression", "language_model", "text_classification")

logger = logging.getLogger("kerasrnn")


def _unknown(kind: str, value: object, accepted: Iterable[str]) -> ValueError:
    return ValueError(f"unknown {kind} {value!r}; expected one of: {', '.join(accepted)}")


def recurrent_stack(
    arch: str | Architecture,
    units: int,
    layers: int,
    dropout: float,
    merge_mode: str,
    return_sequences: bool,
    name: str = "recurrent",
    init: str = "keras",
) -> Recurrent:
    """The :class:`~kerasrnn.layers.Recurrent` layer of a (non-conv) architecture."""
    architecture = arch if isinstance(arch, Architecture) else architecture_of(arch)
    cell = architecture.cell
    return Recurrent(
        cell,
        units,
        num_layers=layers,
        dropout=dropout,
        bidirectional=architecture.bidirectional,
        merge_mode=merge_mode,
        return_sequences=return_sequences,
        cell_kwargs=recurrent_initializers(init, units, cell),
        name=name,
    )


def _conv_lstm_stack(inputs, units, layers, dropout, return_sequences, peephole, kernel_size):
    rank = len(inputs.shape) - 3
    if rank == 0:  # (time, features): 1-D frames of `features` pixels, 1 channel
        x, conv = FeaturesAsFrames(name="as_frames")(inputs), ConvLSTM1D
    elif rank in (1, 2):
        x, conv = inputs, (ConvLSTM1D if rank == 1 else ConvLSTM2D)
    else:
        raise ValueError(f"conv-lstm expects (time, features) or frame sequences; got input shape {inputs.shape[1:]}")
    for index in range(layers):
        last = index == layers - 1
        x = conv(
            units,
            kernel_size,
            padding="same",
            peephole=peephole,
            return_sequences=return_sequences or not last,
            name=f"convlstm_{index}",
        )(x)
        if dropout and not last:
            x = keras.layers.Dropout(dropout)(x)
    # Each frame's feature maps (per step or at the end) as one vector: the
    # head sees where in the frame a feature is (an average would not).
    return FlattenFrames(conv.rank + 1, name="flatten_frames")(x)


def _tcn_stack(inputs, units, layers, dropout, return_sequences, kernel_size):
    if len(inputs.shape) != 3:
        raise ValueError(f"tcn takes sequences of shape (time, features); got input shape {tuple(inputs.shape[1:])}")
    tcn = TCN(units, layers, kernel_size, dropout=dropout, return_sequences=return_sequences, name="tcn")
    field, steps = tcn.receptive_field, inputs.shape[1]
    logger.info("tcn: %d residual block(s), kernel size %d: receptive field %d steps", layers, kernel_size, field)
    if not return_sequences and steps is not None and field < steps:
        needed = next(n for n in range(layers, 64) if receptive_field(kernel_size, n) >= steps)
        logger.warning(
            "tcn: receptive field %d steps is shorter than the %d-step sequences: the last step, which the "
            "prediction is made from, does not see the first %d steps; %d blocks (layers) would see %d",
            field,
            steps,
            steps - field,
            needed,
            receptive_field(kernel_size, needed),
        )
    return tcn(inputs)


def build_model(
    arch: str,
    task: str,
    input_shape: Sequence[int | None],
    num_outputs: int,
    units: int = 128,
    layers: int = 1,
    dropout: float = 0.0,
    merge_mode: str = "concat",
    variable_length: bool = False,
    embedding_dim: int = 64,
    peephole: bool = True,
    kernel_size: int | Sequence[int] = 3,
    init: str = "keras",
    name: str | None = None,
    vocabulary_size: int | None = None,
    embeddings: np.ndarray | None = None,
) -> keras.Model:
    """Builds an (uncompiled) Keras model for ``arch`` on ``task``.

    Args:
        arch: A key of :data:`ARCHITECTURES` (or an alias of one, see
            :mod:`kerasrnn.registry`).
        task: One of ``classification``, ``labelling``, ``regression``,
            ``language_model``.
        input_shape: One sample's shape, without the batch: ``(time,
            features)`` (time may be ``None``), ``(time,)`` token ids for a
            language model, or ``(time, *frame)`` for ``conv-lstm``.
        num_outputs: Classes, regression targets, or vocabulary size.
        units: State size of every recurrent layer (filters for conv-lstm,
            channels for tcn).
        layers: Number of stacked recurrent layers (residual blocks for tcn).
        dropout: Dropout between recurrent layers (and before the head).
        merge_mode: How a ``bi`` architecture merges its two directions.
        variable_length: Inputs are right-padded with
            :data:`~kerasrnn.data.PAD_VALUE`; a ``Masking`` layer hides the
            padding from the recurrence.
        embedding_dim: Token embedding width of a language model.
        peephole: Whether ``conv-lstm`` uses peepholes.
        kernel_size: ``conv-lstm``'s and ``tcn``'s convolution size.
        init: Weight initialization: ``"keras"`` (each layer's defaults) or
            ``"pytorch"`` (``torch.nn``'s, to rerun PyTorch experiments; see
            :mod:`kerasrnn.models.initialization`). Not for ``conv-lstm``.
        vocabulary_size: ``text_classification``: the number of token ids
            (id 0 is padding and is masked).
        embeddings: ``text_classification``: initial embedding vectors,
            ``(vocabulary_size, embedding_dim)`` (pretrained word vectors).

    Returns:
        A ``keras.Model``. Classification and labelling heads end in a
        softmax; a language model's head gives logits (for temperature
        sampling).

    Example::

        model = kerasrnn.build_model("bigru", "classification", (28, 28), 10)
    """
    try:
        architecture = architecture_of(arch)
    except ConfigError as error:
        raise ValueError(str(error)) from None
    arch = architecture.name
    if task not in TASKS:
        raise _unknown("task", task, TASKS)
    if init not in INITIALIZATIONS:
        raise _unknown("initialization", init, INITIALIZATIONS)
    if init != "keras" and architecture.cell is None:
        raise ValueError(f"init={init!r} applies to the recurrent cells, not {arch}")
    if not isinstance(layers, int) or layers < 1:
        raise ValueError(f"layers must be an integer >= 1; got {layers!r}")
    per_step = task in ("labelling", "language_model")
    inputs = keras.Input(tuple(input_shape), name="sequences")
    x = inputs
    if task == "language_model":
        if len(input_shape) != 1:
            raise ValueError(f"a language model takes token ids of shape (time,); got {tuple(input_shape)}")
        x = keras.layers.Embedding(num_outputs, embedding_dim, name="embedding")(x)
    elif task == "text_classification":
        if len(input_shape) != 1 or not vocabulary_size:
            raise ValueError(
                f"text classification takes word ids of shape (time,) and a vocabulary_size; "
                f"got {tuple(input_shape)} and {vocabulary_size!r}"
            )
        if embeddings is not None and tuple(embeddings.shape) != (vocabulary_size, embedding_dim):
            raise ValueError(
                f"embeddings must be ({vocabulary_size}, {embedding_dim}) (vocabulary x embedding_dim); "
                f"got {tuple(embeddings.shape)}"
            )
        x = keras.layers.Embedding(
            vocabulary_size, embedding_dim, mask_zero=True, weights=embeddings, name="embedding"
        )(x)
    elif variable_length:
        x = keras.layers.Masking(mask_value=PAD_VALUE, name="padding_mask")(x)
    if arch == "tcn":
        x = _tcn_stack(x, units, layers, dropout, per_step, kernel_size)
    elif architecture.cell is None:
        x = _conv_lstm_stack(x, units, layers, dropout, per_step, peephole, kernel_size)
    else:
        if len(x.shape) != 3:
            raise ValueError(
                f"{arch} takes sequences of shape (time, features); got {tuple(input_shape)} "
                f"(frame sequences need --arch conv-lstm)"
            )
        x = recurrent_stack(architecture, units, layers, dropout, merge_mode, return_sequences=per_step, init=init)(x)
    if dropout:
        x = keras.layers.Dropout(dropout, name="head_dropout")(x)
    head = dense_initializers(init, x.shape[-1])
    if task in ("classification", "labelling", "text_classification"):
        outputs = keras.layers.Dense(num_outputs, activation="softmax", name="classifier", **head)(x)
    elif task == "regression":
        outputs = keras.layers.Dense(num_outputs, name="forecast", **head)(x)
    else:
        outputs = keras.layers.Dense(num_outputs, name="next_token_logits", **head)(x)
    return keras.Model(inputs, outputs, name=name or f"{arch}_{task}")
