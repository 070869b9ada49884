"""Truncated backpropagation through time: ``kerasrnn fit --tbptt K``.

Long sequences are cut into chunks of ``K`` steps.  Each chunk is one training
step (so gradients stop at chunk borders), and the recurrent states a chunk
ends with are where the next chunk of the same sequence starts (Williams &
Peng 1990; the truncated BPTT of char-rnn and of Zaremba et al. 2014).

How the batches are laid out:

* **language model** (``--dataset shakespeare``): the training text is cut into
  ``B`` (= ``--batch-size``) contiguous streams of equal length; batch ``i``
  holds characters ``i*K .. (i+1)*K`` of every stream, so row ``b`` of a batch
  continues row ``b`` of the batch before.  The states are carried along the
  whole stream and reset once per epoch (at its first chunk).  The tail of a
  stream shorter than ``K`` is not used.
* **per-step labels** (``--data FILE`` with task ``labelling``): each epoch
  draws the same seeded groups of ``B`` sequences as untruncated training;
  the sequences of a group are walked ``K`` steps at a time (the last chunk
  may be shorter), and the states are reset at the first chunk of each group.

Tasks with one target per sequence (classification, regression) are refused:
their loss is at the last step only, so every chunk but the last would train
on nothing.  Bidirectional architectures (the backward direction would carry
its state the wrong way) and ``conv-lstm`` are refused as well.

The carried states live in :class:`CarriedStates` (non-trainable variables,
one row per batch row).  Keras' own ``stateful=True`` is not used: on JAX its
state variables are not part of the compiled step's state, so they never
change.  Whether a row starts afresh comes with the data (a ``reset`` input,
1 at the first chunk of a sequence), so a resumed run and every backend see
the same resets.

Training uses a *carried* form of the model (fixed batch size, the extra
``reset`` input); validation during training, the final metrics, ``model.keras``
and therefore ``evaluate``, ``predict`` and ``generate`` use the ordinary
model (:func:`inference_model`, the same weights).  The language model is
evaluated as without ``--tbptt``: on ``--seq-len`` windows, each read from a
zero state, so its bits per character compare directly with an untruncated
run's.
"""

from __future__ import annotations

import dataclasses
import math
import weakref
from typing import TYPE_CHECKING, Any

import keras
import numpy as np
from keras import ops

from kerasrnn.data import SequenceData
from kerasrnn.errors import ConfigError, DataError
from kerasrnn.layers import Recurrent
from kerasrnn.training.inputs import ShuffledBatches, step_targets
from kerasrnn.training.run_config import RunConfig

if TYPE_CHECKING:
    from kerasrnn.training.run import Run

#: The tasks ``--tbptt`` trains: those with a target at every step.
TBPTT_TASKS = ("language_model", "labelling")

#: Name of the carried model's second input (1.0 where a row starts a new sequence).
RESET_INPUT = "reset"


def check_tbptt(config: RunConfig, task: str) -> None:
    """Raise :class:`ConfigError` when ``--tbptt`` cannot train ``config`` on ``task``."""
    architecture = config.architecture
    if task not in TBPTT_TASKS:
        raise ConfigError(
            f"--tbptt needs a target at every step (the language model, or a --data file with per-step labels); "
            f"this data is {task} with one target per sequence, so all chunks but the last would train on "
            f"nothing: train it without --tbptt"
        )
    if architecture.cell is None:
        raise ConfigError(f"--tbptt carries the states of a recurrent stack; {architecture.name} has none")
    if architecture.bidirectional:
        raise ConfigError(
            f"--tbptt carries states forward from chunk to chunk; {architecture.name} is bidirectional and its "
            f"backward direction cannot be carried: use {architecture.base}"
        )


# --------------------------------------------------------------------------- #
# The carried model
# --------------------------------------------------------------------------- #


@keras.saving.register_keras_serializable(package="kerasrnn")
class CarriedStates(keras.layers.Layer):
    """A :class:`~kerasrnn.layers.Recurrent` stack whose final states start its next call.

    Keeps one non-trainable variable per state of the stack (in the
    ``return_state`` order), of shape ``(batch_size, state_size)``.  A call
    reads them as the initial states, with the rows where ``reset`` is 1 set
    to zero, runs the stack, and stores its final states (gradient stopped) for
    the next call.  Works on every backend inside compiled training steps (the
    variables are updated as a ``BatchNormalization``'s statistics are).

    Args:
        recurrent: The stack's :class:`Recurrent` config (``get_config()``);
            ``return_state`` is turned on here.
        batch_size: The fixed number of rows the states have.

    Call arguments:
        sequences: ``(batch_size, time, features)``.
        reset: ``(batch_size,)``: 1.0 where a row starts a new sequence.
        mask: Optional ``(batch_size, time)`` mask (masked steps keep the state).
        training: Whether dropout is active.
    """

    def __init__(self, recurrent: dict[str, Any], batch_size: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.recurrent_config = dict(recurrent)
        self.batch_size = int(batch_size)
        self.recurrent = Recurrent.from_config({**self.recurrent_config, "return_state": True, "stateful": False})
        self.supports_masking = True
        self.carried: list[keras.Variable] = []

    def build(self, sequences_shape, reset_shape=None) -> None:
        shape = (self.batch_size, *tuple(sequences_shape)[1:])
        self.recurrent.build(shape)
        _, *state_shapes = self.recurrent.compute_output_shape(shape)
        self.carried = [
            self.add_weight(
                shape=tuple(state_shape), initializer="zeros", trainable=False, name=f"carried_state_{index}"
            )
            for index, state_shape in enumerate(state_shapes)
        ]

    def call(self, sequences, reset, mask=None, training=None):
        keep = ops.expand_dims(1.0 - ops.cast(reset, self.compute_dtype), -1)
        # A copy: torch must not see the variable change in place after the step read it.
        states = [ops.copy(ops.convert_to_tensor(variable)) * keep for variable in self.carried]
        outputs, *final = self.recurrent(sequences, initial_state=states, mask=mask, training=training)
        for variable, state in zip(self.carried, final):
            variable.assign(ops.stop_gradient(state))
        return outputs

    def compute_mask(self, sequences, reset=None, mask=None):
        return mask if self.recurrent.return_sequences else None

    def compute_output_shape(self, sequences_shape, reset_shape=None):
        return self.recurrent.compute_output_shape((self.batch_size, *tuple(sequences_shape)[1:]))[0]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "recurrent": self.recurrent_config, "batch_size": self.batch_size}


def carried_model(model: keras.Model, batch_size: int) -> keras.Model:
    """The carried form of a :func:`kerasrnn.build_model` model, with its weights.

    The layers are copied in order (a ``build_model`` model is a chain), the
    recurrent stack becoming a :class:`CarriedStates` of the same name; the
    inputs are the sequences with a fixed batch size and ``reset``.
    """
    given = model.inputs[0]
    sequences = keras.Input(
        batch_shape=(batch_size, None, *given.shape[2:]), dtype=given.dtype, name=given.name or "sequences"
    )
    reset = keras.Input(batch_shape=(batch_size,), name=RESET_INPUT)
    x = sequences
    stacks = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        if isinstance(layer, Recurrent):
            stacks += 1
            x = CarriedStates(layer.get_config(), batch_size, name=layer.name)(x, reset)
        else:
            x = keras.layers.deserialize(keras.layers.serialize(layer))(x)
    if stacks != 1:
        raise ConfigError(f"--tbptt needs a model with one recurrent stack; {model.name} has {stacks}")
    carried = keras.Model([sequences, reset], x, name=f"{model.name}_tbptt")
    copy_weights(model, carried)
    return carried


def _source_layer(layer: keras.layers.Layer) -> keras.layers.Layer:
    return layer.recurrent if isinstance(layer, CarriedStates) else layer


def copy_weights(source: keras.Model, target: keras.Model) -> None:
    """Copy the weights between a model and its carried form, layer by layer (by name)."""
    for layer in target.layers:
        if isinstance(layer, keras.layers.InputLayer) or layer.name == RESET_INPUT:
            continue
        _source_layer(layer).set_weights(_source_layer(source.get_layer(layer.name)).get_weights())


def batch_size_of(config: RunConfig, data: SequenceData) -> int:
    """The fixed number of rows of every training batch (and of the carried states)."""
    if data.task == "language_model":
        return int(config.batch_size)
    return min(int(config.batch_size), len(data.x_train))


def build_and_compile_carried(config: RunConfig, data: SequenceData) -> keras.Model:
    """The compiled carried model of a ``--tbptt`` configuration (see :func:`build_and_compile`)."""
    from kerasrnn.training.model import build_and_compile

    check_tbptt(config, data.task)
    plain = build_and_compile(dataclasses.replace(config, tbptt=None), data)
    model = carried_model(plain, batch_size_of(config, data))
    model.compile_from_config(plain.get_compile_config())
    return model


#: carried model -> its ordinary form (validation during training and the final metrics share it).
_plain_forms: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def inference_model(model: keras.Model, config: RunConfig, data: SequenceData) -> keras.Model:
    """The ordinary (uncarried, any batch size) compiled model with ``model``'s weights.

    ``model`` itself when the run does not use ``--tbptt``.
    """
    if not config.tbptt:
        return model
    from kerasrnn.training.model import build_and_compile

    plain = _plain_forms.get(model)
    if plain is None:  # one per carried model: its evaluation is compiled once
        plain = _plain_forms[model] = build_and_compile(dataclasses.replace(config, tbptt=None), data)
    copy_weights(model, plain)
    _copy_optimizer_state(model, plain)
    return plain


def _copy_optimizer_state(source: keras.Model, target: keras.Model) -> None:
    """Give ``target`` the optimizer state (step, moments) of its carried form, as ``model.keras`` keeps it.

    The trainable variables of both come in the same order (the layers are
    copied in order), so the optimizer's slots do too.
    """
    if not source.optimizer.built:
        return
    target.optimizer.build(target.trainable_variables)
    if [tuple(v.shape) for v in target.optimizer.variables] == [tuple(v.shape) for v in source.optimizer.variables]:
        for mine, theirs in zip(target.optimizer.variables, source.optimizer.variables):
            mine.assign(theirs)


# --------------------------------------------------------------------------- #
# Batches
# --------------------------------------------------------------------------- #


class StreamChunks(keras.utils.PyDataset):
    """Language-model batches: ``B`` contiguous streams walked ``K`` characters at a time.

    Batch ``i`` is ``((x, reset), y)`` with ``x`` and ``y`` of shape ``(B, K)``
    (``y`` is ``x`` shifted by one character) and ``reset`` 1.0 at ``i = 0``
    only.  The same in every epoch.

    Args:
        x: Character ids of the training text, in order.
        y: The next character of each (``x`` shifted by one).
        streams: ``B``.
        chunk: ``K``; a stream shorter than ``K`` is one chunk.
    """

    def __init__(self, x: np.ndarray, y: np.ndarray, streams: int, chunk: int) -> None:
        super().__init__()
        length = len(x) // streams
        if length < 1:
            raise DataError(f"--tbptt: {len(x)} training characters cannot fill {streams} streams (--batch-size)")
        self.x = np.asarray(x[: streams * length]).reshape(streams, length)
        self.y = np.asarray(y[: streams * length]).reshape(streams, length)
        self.chunk = min(int(chunk), length)
        self.chunks = length // self.chunk
        self.epoch = 0

    def __len__(self) -> int:
        return self.chunks

    def __getitem__(self, index: int):
        if not 0 <= index < len(self):
            raise IndexError(f"batch index {index} out of range for {len(self)} batches")
        steps = slice(index * self.chunk, (index + 1) * self.chunk)
        reset = np.full((len(self.x),), 1.0 if index == 0 else 0.0, dtype="float32")
        return (self.x[:, steps], reset), self.y[:, steps]


class SequenceChunks(ShuffledBatches):
    """Per-step-label batches: groups of ``B`` sequences, each walked ``K`` steps at a time.

    Epoch ``e`` orders the sequences as :class:`~kerasrnn.training.inputs.ShuffledBatches`
    does (the same seeded permutation; full groups only), and serves for every
    group its ``ceil(T / K)`` chunks in order, ``reset`` 1.0 at the group's
    first chunk.  With ``K >= T`` the batches are exactly those of untruncated
    training.  Set :attr:`epoch` before an epoch (the trainer does).
    """

    def __init__(self, x: np.ndarray, y: np.ndarray, batch_size: int, chunk: int, seed: int = 0) -> None:
        super().__init__(x, y, batch_size, seed)
        self.steps = x.shape[1]
        self.chunk = min(int(chunk), self.steps)
        self.chunks_per_group = math.ceil(self.steps / self.chunk)

    def __len__(self) -> int:
        return super().__len__() * self.chunks_per_group

    def __getitem__(self, index: int):
        if not 0 <= index < len(self):
            raise IndexError(f"batch index {index} out of range for {len(self)} batches")
        group, piece = divmod(index, self.chunks_per_group)
        rows = self._order()[group * self.batch_size : (group + 1) * self.batch_size]
        steps = slice(piece * self.chunk, (piece + 1) * self.chunk)
        reset = np.full((len(rows),), 1.0 if piece == 0 else 0.0, dtype="float32")
        return (self.x[rows, steps], reset), self.y[rows, steps]


def chunked_batches(config: RunConfig, data: SequenceData) -> keras.utils.PyDataset:
    """The training input of a ``--tbptt`` run (see the module docstring)."""
    check_tbptt(config, data.task)
    if data.task == "language_model":
        # The training windows are consecutive pieces of the text: joined, they are the text again.
        return StreamChunks(data.x_train.reshape(-1), data.y_train.reshape(-1), config.batch_size, config.tbptt)
    y = step_targets(data.x_train, data.y_train, data.task)
    return SequenceChunks(data.x_train, y, batch_size_of(config, data), config.tbptt, config.seed)


def carried_metrics(run: Run) -> dict[str, float]:
    """``{split}_bits_per_char_carried`` of a ``--tbptt`` language model; ``{}`` for other runs.

    Each held-out split is read as training reads the text: ``B`` contiguous
    streams walked ``K`` characters at a time, the states carried along each
    stream (the first ``K`` characters of a stream read from a zero state, a
    stream's tail shorter than ``K`` left out).  This is the context the model
    was trained for; ``{split}_bits_per_char`` (windows of ``--seq-len`` from a
    zero state) is the figure that compares with an untruncated run.
    """
    config, data = run.config, run.data
    if not config.tbptt or data.task != "language_model":
        return {}
    result = {}
    for split in ("val", "test"):
        x, y = getattr(data, f"x_{split}"), getattr(data, f"y_{split}")
        if x.size < config.batch_size:
            continue
        chunks = StreamChunks(x.reshape(-1), y.reshape(-1), config.batch_size, config.tbptt)
        values = run.model.evaluate(chunks, verbose=0, return_dict=True)
        result[f"{split}_bits_per_char_carried"] = float(values["loss"]) / math.log(2.0)
    return result


# --------------------------------------------------------------------------- #
# Validation while training
# --------------------------------------------------------------------------- #


class PlainValidation(keras.callbacks.Callback):
    """Adds ``val_*`` to an epoch's logs from the ordinary model with the carried model's weights.

    The carried model has a fixed batch size and a second input, so Keras'
    own validation cannot run it; this computes the values Keras would for the
    ordinary model.  It must come before the callbacks that read ``val_loss``.
    """

    def __init__(self, plain: keras.Model, validation: Any) -> None:
        super().__init__()
        self.plain, self.validation = plain, validation

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if logs is None:
            return
        from kerasrnn.training.evaluation import EVAL_BATCH_SIZE

        copy_weights(self.model, self.plain)
        if isinstance(self.validation, tuple):
            x, y = self.validation
            values = self.plain.evaluate(x, y, batch_size=EVAL_BATCH_SIZE, verbose=0, return_dict=True)
        else:
            values = self.plain.evaluate(self.validation, verbose=0, return_dict=True)
        logs.update({f"val_{key}": float(value) for key, value in values.items()})


def fit_validation(run: Run, validation: Any) -> tuple[Any, list[keras.callbacks.Callback]]:
    """``(validation_data for model.fit, callbacks to run before the stop conditions)`` of a run."""
    if not run.config.tbptt or validation is None:
        return validation, []
    return None, [PlainValidation(inference_model(run.model, run.config, run.data), validation)]
