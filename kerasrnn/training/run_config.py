"""Every option of a training run, resolved, in one JSON-serialisable dataclass.

A :class:`RunConfig` is what ``kerasrnn fit`` builds from its command line
(and a preset), what :func:`kerasrnn.training.fit` consumes, and what a run
directory's ``config.json`` stores under ``"config"``, so that ``evaluate``,
``predict``, ``generate`` and ``fit --resume`` rebuild exactly the same data
and model.

Options left as ``None`` take the default of the data set
(:data:`DATASET_DEFAULTS`): ``kerasrnn fit --arch bigru`` on MNIST and on the
sunspots need different sizes.  :meth:`RunConfig.resolve` fills them in, and
only resolved configurations are written to a run directory.

This module imports nothing but the standard library.
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

from kerasrnn.training.errors import ConfigError

OPTIMIZERS = ("adam", "sgd", "rmsprop")
LR_SCHEDULES = ("constant", "cosine")
MERGE_MODES = ("concat", "sum", "mul", "ave")
#: ``jit_compile`` -> ``model.compile(jit_compile=...)``.
JIT_COMPILE = {"auto": "auto", "on": True, "off": False}
LAYOUTS = ("rows", "pixel", "permuted")
BUILTIN_DATASETS = ("mnist", "sunspots", "shakespeare")
FILE_DATASET = "file"
TASK_OVERRIDES = ("classification", "regression", "labelling")
INITIALIZATIONS = ("keras", "pytorch")  # kerasrnn.models.initialization (not imported: it imports Keras)

#: Defaults per data set for the options a user leaves unset (``None``).
#:
#: MNIST's were chosen by experiment on the 2-core development CPU so that
#: ``kerasrnn fit --arch bigru`` finishes in under 5 minutes with the
#: TensorFlow backend and reaches >= 97% test accuracy on mnist-10k (see
#: docs/cli.md): 128 units, batch 128, Adam 3e-3 with a cosine decay over 20
#: epochs, random shifts of up to 2 pixels on the training images, and a
#: 240-second training budget that ends training early (annealing the learning
#: rate on the way) on a slower machine.
DATASET_DEFAULTS: dict[str, dict[str, Any]] = {
    "mnist": dict(
        arch="bigru", units=128, batch_size=128, epochs=20, lr=3e-3, lr_schedule="cosine",
        patience=6, augment_shift=2, time_budget=240.0,
    ),
    "sunspots": dict(
        arch="bigru", units=32, batch_size=16, epochs=300, lr=3e-3, lr_schedule="constant",
        patience=30, augment_shift=0, time_budget=240.0,
    ),
    "shakespeare": dict(
        arch="gru", units=256, batch_size=32, epochs=30, lr=5e-3, lr_schedule="cosine",
        patience=4, augment_shift=0, time_budget=240.0,
    ),
    "file": dict(
        arch="bigru", units=64, batch_size=32, epochs=100, lr=1e-3, lr_schedule="constant",
        patience=10, augment_shift=0, time_budget=240.0,
    ),
}

#: Defaults per architecture, before the data set's: a ConvLSTM's "units"
#: are filters at every position of a frame, so 16 of them over a 28-pixel
#: MNIST row cost about what 128 LSTM units do (128 would cost 8 times that).
ARCH_DEFAULTS: dict[str, dict[str, Any]] = {
    "convlstm": dict(units=16),
}

# Options that have a per-data-set default (None = "use it").
_PER_DATASET = ("arch", "units", "batch_size", "epochs", "lr", "lr_schedule", "patience", "augment_shift", "time_budget")


@dataclasses.dataclass
class RunConfig:
    """All options of one training run.

    Data:
        dataset: ``"mnist"``, ``"sunspots"``, ``"shakespeare"`` or ``"file"``.
        data_file: The ``.npz`` / delimited text file of ``dataset="file"``.
        test_file: An explicit test file for ``data_file`` (else a UCR
            ``*_TEST`` sibling, else a seeded split).
        text_file: A UTF-8 corpus for ``shakespeare`` (default: the bundled
            tiny-shakespeare).
        data_dir: Directory with MNIST IDX files (default ``$KERASRNN_DATA``).
        layout: MNIST layout: ``rows`` (28x28), ``pixel`` (784x1) or
            ``permuted``.
        label_col: Label column of delimited files.
        task: Force ``classification`` / ``regression`` / ``labelling`` for
            a data file (default: inferred from the labels).
        window: Sunspot window in years.
        seq_len: Characters per language-model training window.
        max_chars: Use only the first characters of a corpus.
        max_samples: Keep at most this many samples of each split (a seeded
            random subset), for quick runs and tests.
        validation_fraction: Fraction of the training part held out.

    Model:
        arch, units, layers, dropout, merge_mode, embedding_dim, init: See
        :func:`kerasrnn.build_model`.  ``arch`` defaults to ``bigru``, and
        to ``gru`` for the language model (a bidirectional model would read
        the very characters it has to predict).

    Training:
        optimizer: ``adam``, ``sgd`` or ``rmsprop``.
        lr: Initial learning rate.
        lr_schedule: ``constant``, or ``cosine`` (per epoch, from ``lr`` to 0
            over ``epochs``, or over ``time_budget`` if that runs out first).
        batch_size: Samples per training batch.
        epochs: Maximum number of epochs.
        iterations: Stop after this many training batches (the course's
            "3000 iterations"); ``epochs`` is then derived from it.
        clipnorm: Clip each gradient to this norm; ``None`` for no clipping.
        patience: Early stopping after this many epochs without a better
            validation loss (the best weights are restored); 0 disables it.
        augment_shift: Shift MNIST training images by up to this many pixels
            (random, per sample and epoch; never validation or test); 0 off.
        time_budget: Seconds of training (``model.fit``) after which no new
            epoch starts; 0 for no limit.
        seed: Seed of Python, NumPy and the backend, of data order and
            augmentation.
        sample_length: Characters per sample in ``samples.txt`` (language
            models).
        jit_compile: ``auto`` (Keras' default: XLA on JAX, and on TensorFlow
            only with a GPU; eager on torch), ``on`` (XLA on TensorFlow,
            ``torch.compile`` on torch: faster steps after minutes of
            compilation on a small CPU, see docs/bench.md) or ``off``.

    Bookkeeping:
        preset: Name of the preset the options came from, if any.
        backend: The Keras backend the run trains on (filled in by ``fit``).
    """

    arch: str | None = None
    dataset: str = "mnist"
    data_file: str | None = None
    test_file: str | None = None
    text_file: str | None = None
    data_dir: str | None = None
    layout: str = "rows"
    label_col: int = 0
    task: str | None = None
    window: int = 12
    seq_len: int = 100
    max_chars: int | None = None
    max_samples: int | None = None
    validation_fraction: float | None = None

    units: int | None = None
    layers: int = 1
    dropout: float = 0.0
    merge_mode: str = "concat"
    embedding_dim: int = 64
    init: str = "keras"

    optimizer: str = "adam"
    lr: float | None = None
    lr_schedule: str | None = None
    batch_size: int | None = None
    epochs: int | None = None
    iterations: int | None = None
    clipnorm: float | None = 1.0
    patience: int | None = None
    augment_shift: int | None = None
    time_budget: float | None = None
    seed: int = 0
    sample_length: int = 300
    jit_compile: str = "auto"

    preset: str | None = None
    backend: str | None = None

    # ------------------------------------------------------------------ #

    @classmethod
    def field_names(cls) -> list[str]:
        return [field.name for field in dataclasses.fields(cls)]

    def resolve(self) -> "RunConfig":
        """A validated copy with every data-set default filled in.

        Raises:
            ConfigError: For an invalid value, naming the accepted ones.
        """
        config = dataclasses.replace(self)
        config._check_names()
        if config.arch is None:
            config.arch = DATASET_DEFAULTS[config.dataset]["arch"]
        defaults = {**DATASET_DEFAULTS[config.dataset], **ARCH_DEFAULTS.get(config.arch, {})}
        for name in _PER_DATASET:
            if getattr(config, name) is None:
                setattr(config, name, defaults[name])
        if config.augment_shift and config.dataset != "mnist":
            raise ConfigError(
                f"augment_shift shifts MNIST images; it does not apply to dataset {config.dataset!r} (use 0)"
            )
        config._check_values()
        return config

    def _check_names(self) -> None:
        datasets = (*BUILTIN_DATASETS, FILE_DATASET)
        if self.dataset not in datasets:
            raise ConfigError(f"unknown dataset {self.dataset!r}; expected one of: {', '.join(datasets)}")
        if self.dataset == FILE_DATASET and not self.data_file:
            raise ConfigError("dataset 'file' needs a data file (--data FILE)")
        if self.dataset != FILE_DATASET and (self.data_file or self.test_file):
            raise ConfigError(f"a data file is only read with dataset 'file', not {self.dataset!r}")
        if self.text_file and self.dataset != "shakespeare":
            raise ConfigError("a text file (--text) is a corpus for the character language model (dataset 'shakespeare')")
        _choice("optimizer", self.optimizer, OPTIMIZERS)
        _choice("merge mode", self.merge_mode, MERGE_MODES)
        _choice("weight initialization", self.init, INITIALIZATIONS)
        _choice("jit_compile", self.jit_compile, JIT_COMPILE)
        _choice("MNIST layout", self.layout, LAYOUTS)
        if self.lr_schedule is not None:
            _choice("learning-rate schedule", self.lr_schedule, LR_SCHEDULES)
        if self.task is not None:
            _choice("task", self.task, TASK_OVERRIDES)

    def _check_values(self) -> None:
        _integer("units", self.units, 1)
        _integer("layers", self.layers, 1)
        _integer("embedding_dim", self.embedding_dim, 1)
        _integer("batch_size", self.batch_size, 1)
        _integer("epochs", self.epochs, 1)
        _integer("window", self.window, 1)
        _integer("seq_len", self.seq_len, 1)
        _integer("patience", self.patience, 0)
        _integer("augment_shift", self.augment_shift, 0, 8)
        _integer("seed", self.seed, 0)
        _integer("sample_length", self.sample_length, 1)
        _integer("label_col", self.label_col, None)
        for name in ("iterations", "max_samples", "max_chars"):
            if getattr(self, name) is not None:
                _integer(name, getattr(self, name), 1)
        _number("lr", self.lr, low=0.0, low_open=True)
        _number("dropout", self.dropout, low=0.0, high=1.0, high_open=True)
        _number("time_budget", self.time_budget, low=0.0)
        if self.clipnorm is not None:
            _number("clipnorm", self.clipnorm, low=0.0, low_open=True)
        if self.validation_fraction is not None:
            _number("validation_fraction", self.validation_fraction, low=0.0, high=1.0, high_open=True)

    # ------------------------------------------------------------------ #

    def loader_options(self) -> tuple[str, dict[str, Any]]:
        """``(name, options)`` for :func:`kerasrnn.data.load_dataset`."""
        options: dict[str, Any] = {}
        if self.validation_fraction is not None:
            options["validation_fraction"] = self.validation_fraction
        if self.dataset == "mnist":
            options.update(layout=self.layout, seed=self.seed)
            if self.data_dir:
                options["data_dir"] = self.data_dir
            return "mnist", options
        if self.dataset == "sunspots":
            options.update(window=self.window)
            return "sunspots", options
        if self.dataset == "shakespeare":
            options.update(seq_len=self.seq_len)
            if self.max_chars:
                options["max_chars"] = self.max_chars
            return "shakespeare", options
        options.update(label_col=self.label_col, seed=self.seed)
        if self.task:
            options["task"] = self.task
        if self.test_file:
            options["test_path"] = self.test_file
        return str(self.data_file), options

    def dataset_label(self) -> str:
        """Short name of the data for a run directory's name."""
        if self.dataset == FILE_DATASET and self.data_file:
            from pathlib import Path

            return Path(self.data_file).stem or "file"
        return self.dataset

    # ------------------------------------------------------------------ #

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "RunConfig":
        """Inverse of :meth:`to_dict`.

        Raises:
            ConfigError: For a key that is not an option (listing them).
        """
        if not isinstance(values, dict):
            raise ConfigError(f"a run configuration must be a JSON object; got {type(values).__name__}")
        unknown = sorted(set(values) - set(cls.field_names()))
        if unknown:
            raise ConfigError(
                f"unknown option(s) {', '.join(unknown)}; accepted: {', '.join(cls.field_names())}"
            )
        return cls(**values)

    @classmethod
    def from_json(cls, text: str) -> "RunConfig":
        try:
            values = json.loads(text)
        except json.JSONDecodeError as error:
            raise ConfigError(f"run configuration is not valid JSON ({error})") from None
        return cls.from_dict(values)


def _choice(what: str, value: Any, accepted) -> None:
    if value not in accepted:
        raise ConfigError(f"unknown {what} {value!r}; expected one of: {', '.join(accepted)}")


def _integer(name: str, value: Any, low: int | None, high: int | None = None) -> None:
    ok = isinstance(value, int) and not isinstance(value, bool)
    ok = ok and (low is None or value >= low) and (high is None or value <= high)
    if not ok:
        bounds = f">= {low}" if high is None else f"from {low} to {high}"
        raise ConfigError(f"{name} must be an integer {bounds}; got {value!r}" if low is not None
                          else f"{name} must be an integer; got {value!r}")


def _number(name, value, low=None, high=None, low_open=False, high_open=False) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value < high if high_open else value <= high
    if not ok:
        left = "(" if low_open else "["
        right = ")" if high_open else "]"
        bounds = f"in {left}{low}, {'inf' if high is None else high}{right}"
        raise ConfigError(f"{name} must be a number {bounds}; got {value!r}")
