"""The names kerasrnn knows -- architectures, data sets, presets, option choices -- without Keras.

The command line imports this module before it chooses a Keras backend, so it
imports nothing heavy: the data sets' modules (NumPy) are imported only by
:func:`presets` and :func:`~kerasrnn.data.registry.dataset_class`.

Spelling rule, from class to ``--arch``: a cell's class name in snake_case is
its module's file name and its :class:`~kerasrnn.layers.Recurrent` cell name,
and the same words joined by hyphens are its ``--arch`` name; ``bi`` in front
makes the bidirectional architecture::

    LayerNormLSTM  ->  layers/layer_norm_lstm.py  ->  Recurrent("layer_norm_lstm")  ->  --arch layer-norm-lstm, bilayer-norm-lstm

Keras' own cells keep short names (``rnn`` is ``SimpleRNN`` with tanh,
``rnn-relu`` with ReLU, ``gru-cudnn`` the reset-after GRU).  Names used before
this rule (``layernorm-lstm``, ``convlstm``) are accepted as aliases and
resolved to the canonical name, so earlier commands and run directories work.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from kerasrnn.data.registry import (
    DATASETS,
    DEFAULT_DATASET,
    FILE_DATASET,
    dataset_class,
    dataset_options,
)
from kerasrnn.errors import ConfigError

# --------------------------------------------------------------------------- #
# Architectures
# --------------------------------------------------------------------------- #


@dataclasses.dataclass(frozen=True)
class Architecture:
    """One ``--arch`` name, parsed.

    Attributes:
        name: The canonical name (``bilayer-norm-lstm``).
        base: The name without the ``bi`` prefix (``layer-norm-lstm``).
        cell: The :class:`~kerasrnn.layers.Recurrent` cell name
            (``layer_norm_lstm``); ``None`` for the convolutional LSTM and the
            TCN, which have their own layers.
        bidirectional: Whether the ``bi`` prefix was given.
        description: One line for ``kerasrnn archs``.
        defaults: Run options this architecture needs other defaults for.
    """

    name: str
    base: str
    cell: str | None
    bidirectional: bool
    description: str
    defaults: Mapping[str, Any] = dataclasses.field(default_factory=dict)


# Base architecture -> (Recurrent cell name, description); each also has a bi form.
_RECURRENT = {
    "rnn": ("rnn_tanh", "vanilla (Elman) RNN, tanh (keras.layers.SimpleRNN)"),
    "rnn-relu": ("rnn_relu", "vanilla (Elman) RNN, ReLU (keras.layers.SimpleRNN)"),
    "lstm": ("lstm", "LSTM with forget gate (keras.layers.LSTM)"),
    "peephole-lstm": ("peephole_lstm", "peephole LSTM, Gers & Schmidhuber 2000"),
    "layer-norm-lstm": ("layer_norm_lstm", "layer-normalized LSTM, Ba et al. 2016"),
    "gru": ("gru", "GRU, Cho et al. 2014 form: reset gate before the recurrent matmul"),
    "gru-cudnn": ("gru_cudnn", "GRU, cuDNN/PyTorch form: reset gate after the recurrent matmul"),
    "mut1": ("mut1", "MUT1, Jozefowicz et al. 2015"),
    "mut2": ("mut2", "MUT2, Jozefowicz et al. 2015"),
    "mut3": ("mut3", "MUT3, Jozefowicz et al. 2015"),
    "ind-rnn": ("ind_rnn", "independently recurrent network (IndRNN), relu, Li et al. 2018"),
    "mgu": ("mgu", "minimal gated unit (one gate), Zhou et al. 2016"),
    "min-gru": ("min_gru", "minGRU, Feng et al. 2024: gate of the input alone, trains by a parallel scan"),
    "min-lstm": ("min_lstm", "minLSTM, Feng et al. 2024: normalized gates of the input alone, parallel scan"),
    "nas": ("nas", "NAS cell, Zoph & Le 2017 (tensorflow-addons form)"),
    "layer-norm-simple-rnn": ("layer_norm_simple_rnn", "layer-normalized simple RNN, Ba et al. 2016"),
    "layer-norm-gru": ("layer_norm_gru", "layer-normalized GRU, Ba et al. 2016, reset gate after the recurrent matmul"),
    "esn": ("esn", "echo state network: fixed sparse reservoir, only the readout trains, Jaeger 2001"),
}

#: The convolutional LSTM (no bi form).  Its "units" are filters at every
#: position of a frame, so 16 of them over a 28-pixel MNIST row cost about what
#: 128 LSTM units do (128 would cost 8 times that).
CONV_LSTM = Architecture(
    name="conv-lstm",
    base="conv-lstm",
    cell=None,
    bidirectional=False,
    description="convolutional LSTM with peepholes, Shi et al. 2015, for frame sequences",
    defaults={"units": 16},
)

#: The temporal convolutional network (no bi form: its convolutions are causal).
#: ``--units`` is the channels of every convolution, ``--layers`` the residual
#: blocks (block i dilates by 2**i); kernel size 3, so L blocks see
#: 1 + 4 (2**L - 1) steps (3 blocks for a 28-step MNIST row, 8 for 784 pixels).
TCN = Architecture(
    name="tcn",
    base="tcn",
    cell=None,
    bidirectional=False,
    description="temporal convolutional network: residual dilated causal convolutions, Bai et al. 2018",
)


def _all_architectures() -> dict[str, Architecture]:
    table = {}
    for base, (cell, description) in _RECURRENT.items():
        table[base] = Architecture(base, base, cell, False, description)
        table[f"bi{base}"] = Architecture(f"bi{base}", base, cell, True, f"bidirectional {description}")
    table[CONV_LSTM.name] = CONV_LSTM
    table[TCN.name] = TCN
    return table


#: Canonical name -> :class:`Architecture`.
ARCHITECTURES: dict[str, Architecture] = _all_architectures()
#: Canonical name -> one-line description (``kerasrnn.ARCHITECTURES``).
ARCHITECTURE_DESCRIPTIONS: dict[str, str] = {name: arch.description for name, arch in ARCHITECTURES.items()}
#: Earlier spellings -> canonical names.
ARCHITECTURE_ALIASES: dict[str, str] = {
    "layernorm-lstm": "layer-norm-lstm",
    "bilayernorm-lstm": "bilayer-norm-lstm",
    "convlstm": "conv-lstm",
    "mingru": "min-gru",
    "bimingru": "bimin-gru",
    "minlstm": "min-lstm",
    "biminlstm": "bimin-lstm",
}


def architecture(name: str) -> Architecture:
    """The :class:`Architecture` of ``name`` (canonical or an alias).

    Raises:
        ConfigError: For an unknown name, listing the known ones.
    """
    if not isinstance(name, str):
        raise ConfigError(f"an architecture is a name such as 'bigru'; got {name!r}")
    found = ARCHITECTURES.get(ARCHITECTURE_ALIASES.get(name, name))
    if found is None:
        raise ConfigError(f"unknown architecture {name!r}; expected one of: {', '.join(ARCHITECTURES)}")
    return found


# --------------------------------------------------------------------------- #
# Option choices
# --------------------------------------------------------------------------- #

BACKENDS = ("tensorflow", "jax", "torch")
OPTIMIZERS = ("adam", "sgd", "rmsprop")
LR_SCHEDULES = ("constant", "cosine")
MERGE_MODES = ("concat", "sum", "mul", "ave")
#: ``--jit-compile`` -> ``model.compile(jit_compile=...)``.
JIT_COMPILE = {"auto": "auto", "on": True, "off": False}
#: Sequence layouts of image data sets (rows, pixel by pixel, permuted pixels).
LAYOUTS = ("rows", "pixel", "permuted")
#: Tasks a user may force on a data file.
TASK_OVERRIDES = ("classification", "regression", "labelling", "seq2seq", "text-classification")
#: ``--task`` values that read text files, and the data set that reads them.
TEXT_TASK_DATASETS = {"seq2seq": "pairs", "text-classification": "texts"}
#: ``--attention``: the decoder's attention (:mod:`kerasrnn.models.encoder_decoder`).
ATTENTIONS = ("luong", "bahdanau", "none")
#: ``--tokens``: what one token of a text is.
TOKENS = ("word", "char")
#: Weight initializations (:mod:`kerasrnn.models.initialization`).
INITIALIZATIONS = ("keras", "pytorch")


# --------------------------------------------------------------------------- #
# Presets
# --------------------------------------------------------------------------- #


def presets() -> dict[str, dict[str, Any]]:
    """Every data set's presets: name -> ``{"description", "options" (with "dataset"), ...}``."""
    table: dict[str, dict[str, Any]] = {}
    for name in DATASETS:
        for preset, entry in dataset_class(name).presets.items():
            table[preset] = {**entry, "options": {"dataset": name, **entry["options"]}}
    return table


def preset(name: str) -> dict[str, Any]:
    """One preset.

    Raises:
        ConfigError: For an unknown name, listing the known ones.
    """
    table = presets()
    if name not in table:
        raise ConfigError(f"unknown preset {name!r}; expected one of: {', '.join(table)}")
    return table[name]


__all__ = [
    "ARCHITECTURES",
    "ARCHITECTURE_ALIASES",
    "ARCHITECTURE_DESCRIPTIONS",
    "Architecture",
    "BACKENDS",
    "DATASETS",
    "DEFAULT_DATASET",
    "FILE_DATASET",
    "INITIALIZATIONS",
    "JIT_COMPILE",
    "LAYOUTS",
    "LR_SCHEDULES",
    "MERGE_MODES",
    "OPTIMIZERS",
    "TASK_OVERRIDES",
    "TEXT_TASK_DATASETS",
    "ATTENTIONS",
    "TOKENS",
    "architecture",
    "dataset_class",
    "dataset_options",
    "preset",
    "presets",
]
