"""The compiled model of a run: :func:`kerasrnn.build_model`, loss, metrics, optimizer."""

from __future__ import annotations

from typing import Any

import keras

from kerasrnn.data import SequenceData
from kerasrnn.registry import JIT_COMPILE
from kerasrnn.training import distribution
from kerasrnn.training.run_config import RunConfig


def model_input_shape(data: SequenceData) -> tuple:
    """The shape ``build_model`` gets: free time axis for text and variable lengths."""
    if data.task in ("language_model", "text_classification"):
        return (None,)
    if data.variable_length:
        return (None, *data.input_shape[1:])
    return data.input_shape


def make_optimizer(config: RunConfig) -> keras.optimizers.Optimizer:
    """Adam, SGD or RMSprop with the run's learning rate and gradient clipping."""
    classes = {"adam": keras.optimizers.Adam, "sgd": keras.optimizers.SGD, "rmsprop": keras.optimizers.RMSprop}
    options: dict[str, Any] = {"learning_rate": float(config.lr)}
    if config.clipnorm is not None:
        options["clipnorm"] = float(config.clipnorm)
    return classes[config.optimizer](**options)


def build_and_compile(config: RunConfig, data: SequenceData) -> keras.Model:
    """The compiled model of a resolved configuration for its data (the carried form with ``tbptt``)."""
    with distribution.model_scope(config, data):  # a strategy's scope under --distribute (TensorFlow)
        model = _build_and_compile(config, data)
    return distribution.adapt_model(model, lambda: _build_and_compile(config, data))


def _build_and_compile(config: RunConfig, data: SequenceData) -> keras.Model:
    if config.tbptt:
        from kerasrnn.training.truncated_bptt import build_and_compile_carried

        return build_and_compile_carried(config, data)
    if data.task == "seq2seq":
        return _build_and_compile_encoder_decoder(config, data)
    from kerasrnn.models.architectures import build_model

    text = data.task == "text_classification"

    model = build_model(
        config.arch,
        data.task,
        model_input_shape(data),
        data.num_outputs,
        units=config.units,
        layers=config.layers,
        dropout=config.dropout,
        merge_mode=config.merge_mode,
        variable_length=data.variable_length and data.task not in ("language_model", "text_classification"),
        embedding_dim=config.embedding_dim,
        init=config.init,
        vocabulary_size=_vocabulary(data.info["vocabulary"]).size if text else None,
        embeddings=_pretrained(config, data.info["vocabulary"]) if text else None,
    )
    if data.task == "regression":
        loss = keras.losses.MeanSquaredError()
        metrics = [keras.metrics.RootMeanSquaredError(name="rmse")]
    else:
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=data.task == "language_model")
        metrics = [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
    model.compile(
        optimizer=make_optimizer(config), loss=loss, metrics=metrics, jit_compile=JIT_COMPILE[config.jit_compile]
    )
    return model


def _vocabulary(config: dict):
    from kerasrnn.data.vocabulary import Vocabulary

    return Vocabulary.from_config(config)


def _pretrained(config: RunConfig, vocabulary: dict):
    """The ``--embeddings`` vectors of a vocabulary's tokens, or ``None``."""
    if not config.embeddings:
        return None
    import logging

    from kerasrnn.data.word_vectors import read_word_vectors

    matrix, found = read_word_vectors(
        config.embeddings, _vocabulary(vocabulary), dim=config.embedding_dim, seed=config.seed
    )
    logging.getLogger("kerasrnn").info("embeddings: %d of %d tokens found in %s", found, len(matrix), config.embeddings)
    return matrix


def _build_and_compile_encoder_decoder(config: RunConfig, data: SequenceData) -> keras.Model:
    """The :class:`~kerasrnn.models.encoder_decoder.EncoderDecoder` of a sequence-to-sequence run."""
    import numpy as np

    from kerasrnn.data.vocabulary import PAD_ID
    from kerasrnn.models.encoder_decoder import EncoderDecoder
    from kerasrnn.training.token_accuracy import TokenAccuracy

    source, target = data.info["source_vocabulary"], data.info["target_vocabulary"]
    model = EncoderDecoder(
        arch=config.arch,
        source_vocab_size=_vocabulary(source).size,
        target_vocab_size=_vocabulary(target).size,
        units=config.units,
        layers=config.layers,
        embedding_dim=config.embedding_dim,
        dropout=config.dropout,
        attention=config.attention,
        init=config.init,
        source_embeddings=_pretrained(config, source),
    )
    model([np.ones((1, 2), np.int32), np.ones((1, 2), np.int32)])  # build the weights now (checkpoints, counts)
    model.compile(
        optimizer=make_optimizer(config),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=PAD_ID),
        metrics=[TokenAccuracy(name="accuracy")],
        jit_compile=JIT_COMPILE[config.jit_compile],
    )
    return model
