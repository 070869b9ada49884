"""Every option of a training run, resolved, in one JSON-serialisable dataclass.

A :class:`RunConfig` is what ``kerasrnn fit`` builds from its command line
(and a preset), what :func:`kerasrnn.training.fit` consumes, and what a run
directory's ``config.json`` stores under ``"config"``, so that ``evaluate``,
``predict``, ``generate`` and ``fit --resume`` rebuild exactly the same data
and model.

Options left as ``None`` take the default of the data set
(:attr:`kerasrnn.data.Dataset.defaults`) and the architecture
(:attr:`kerasrnn.registry.Architecture.defaults`): ``kerasrnn fit --arch
bigru`` on MNIST and on the sunspots need different sizes.
:meth:`RunConfig.resolve` fills them in, and only resolved configurations are
written to a run directory.

Each field's metadata (:func:`option`) carries its command-line help, so the
``kerasrnn fit`` options are generated from this class (:mod:`kerasrnn.cli`).

This module imports the standard library and :mod:`kerasrnn.registry` (no
Keras); a data set's module is imported to read its defaults.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from typing import TYPE_CHECKING, Any

from kerasrnn import registry
from kerasrnn.errors import ConfigError

if TYPE_CHECKING:
    from kerasrnn.data.dataset import Dataset

#: ``--distribute`` and ``--scale-lr`` (kerasrnn.training.distribution).
DISTRIBUTE_MODES = ("none", "data-parallel", "multi-worker")
SCALE_LR = ("none", "linear")
# Options that name files or directories.
_PATHS = ("data_file", "test_file", "text_file", "data_dir", "embeddings")
# Options that take the data set's (or the architecture's) default when unset (None).
_PER_DATASET = (
    "embedding_dim",
    "dropout",
    "min_count",
    "arch",
    "units",
    "batch_size",
    "epochs",
    "lr",
    "lr_schedule",
    "patience",
    "augment_shift",
    "time_budget",
)

#: What an unset per-data-set option becomes when the data set names no default (else 0).
_FALLBACKS = {"embedding_dim": 64, "dropout": 0.0, "min_count": 1}


def option(
    default: Any,
    help: str,
    *,
    type: type | None = None,
    choices: Any = None,
    flag: str | None = None,
    metavar: str | None = None,
    cli: bool = True,
) -> Any:
    """A :class:`RunConfig` field whose metadata describes its command-line option.

    Args:
        default: The field's default.
        help: The option's help text.
        type: The option's value type (``int``, ``float``, ``str``).
        choices: The accepted values, if they are a fixed list.
        flag: The option's name when it is not ``--`` + the field name with
            hyphens.
        metavar: The value's placeholder in the help.
        cli: ``False`` for fields the command line sets its own way.
    """
    metadata = {"help": help, "type": type, "choices": choices, "flag": flag, "metavar": metavar, "cli": cli}
    return dataclasses.field(default=default, metadata=metadata)


@dataclasses.dataclass
class RunConfig:
    """All options of one training run.

    Data:
        dataset: A name of :data:`kerasrnn.data.DATASETS`.
        data_file: The ``.npz`` / delimited text file of the user-file data set.
        test_file: An explicit test file for ``data_file`` (else a UCR
            ``*_TEST`` sibling, else a seeded split).
        text_file: A UTF-8 corpus for the character language model (default:
            the bundled tiny-shakespeare).
        data_dir: Directory with MNIST IDX files (default ``$KERASRNN_DATA``).
        layout: Image layout: ``rows`` (28x28), ``pixel`` (784x1) or
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
        length, samples: Generated tasks: the sequence length (the delay
            of ``copy``) and the number of sequences generated.
        digits, distractors: Arithmetic: the most digits of a number and
            the most distractor letters between two characters.

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
        tbptt: Truncated backpropagation through time in chunks of this
            many steps (:mod:`kerasrnn.training.truncated_bptt`); ``None``: off.
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
        distribute, devices, scale_lr: Scaling out
            (:mod:`kerasrnn.training.distribution`): ``none``,
            ``data-parallel`` (the local devices, ``devices`` of them) or
            ``multi-worker``; ``batch_size`` stays the global batch, and
            ``scale_lr="linear"`` multiplies ``lr`` by the replicas.

    Bookkeeping:
        preset: Name of the preset the options came from, if any.
        backend: The Keras backend the run trains on (filled in by ``fit``).
    """

    arch: str | None = option(
        None, "Architecture (see 'kerasrnn archs'). Default: bigru (gru for text).", type=str, metavar="NAME"
    )
    dataset: str = option(registry.DEFAULT_DATASET, "Data set (see 'kerasrnn datasets').", cli=False)
    data_file: str | None = option(
        None,
        "Your sequences: .npz (x, y) or delimited text (UCR: label first).",
        type=str,
        flag="--data",
        metavar="FILE",
    )
    test_file: str | None = option(
        None,
        "Test split for --data (default: FOO_TEST next to FOO_TRAIN, else a seeded split).",
        type=str,
        flag="--test-data",
        metavar="FILE",
    )
    text_file: str | None = option(
        None,
        "A UTF-8 corpus for the character language model (default: tiny-shakespeare).",
        type=str,
        flag="--text",
        metavar="FILE",
    )
    data_dir: str | None = option(
        None, "Directory with MNIST IDX files (default $KERASRNN_DATA).", type=str, metavar="DIR"
    )
    layout: str = option("rows", "Image layout: rows, pixel or permuted.", choices=registry.LAYOUTS, cli=False)
    label_col: int = option(0, "Label column of a delimited --data file (default 0; -1 = last).", type=int)
    task: str | None = option(
        None, "Force the task of --data (default: inferred from the labels).", choices=registry.TASK_OVERRIDES
    )
    window: int = option(12, "Sunspots: years of history per forecast (default 12).", type=int)
    seq_len: int = option(100, "Text: characters per training sequence (default 100).", type=int)
    max_chars: int | None = option(None, "Text: use only the first N characters.", type=int)
    max_samples: int | None = option(None, "Keep at most N samples of each split (seeded), for quick runs.", type=int)
    validation_fraction: float | None = option(
        None, "Fraction of the training data held out for validation.", type=float
    )
    # Generated long-memory tasks (adding, copy, arithmetic, xml).
    length: int | None = option(
        None,
        "Generated tasks: adding: steps T; copy: the delay T (T+20 steps); xml: characters per sample "
        "(default 100 each).",
        type=int,
    )
    samples: int | None = option(
        None, "Generated tasks: sequences generated, 10% of them for testing (default per task).", type=int
    )
    # Text: words and sentence pairs (fra-eng, sentiment, --task seq2seq / text-classification files).
    tokens: str | None = option(
        None, "Text files: word (default) or char tokens.", choices=registry.TOKENS, metavar="word|char"
    )
    min_count: int | None = option(
        None, "Text: keep tokens seen at least N times in training (default: per data set, 1; fra-eng 2).", type=int
    )
    max_vocabulary: int | None = option(
        None, "Text: keep at most N most frequent tokens (plus pad/unk/bos/eos).", type=int
    )
    embeddings: str | None = option(
        None,
        "Text: pretrained word vectors, word2vec/GloVe text format (one 'word v1 v2 ...' a line).",
        type=str,
        metavar="FILE",
    )
    attention: str = option(
        "luong",
        "Sequence to sequence: the decoder's attention over the encoder, luong (default), bahdanau or none.",
        choices=registry.ATTENTIONS,
    )
    beam: int = option(
        5, "Sequence to sequence: beam size of the beam-search evaluation (default 5; 1 = greedy only).", type=int
    )
    digits: int = option(8, "Arithmetic: most digits of each number (default 8).", type=int)
    distractors: int = option(2, "Arithmetic: most distractor letters between two characters (default 2).", type=int)

    units: int | None = option(
        None, "Units per recurrent layer (default: per data set, 128 for MNIST; 16 filters for conv-lstm).", type=int
    )
    layers: int = option(1, "Stacked recurrent layers (default 1).", type=int)
    dropout: float | None = option(
        None,
        "Dropout between layers and before the head; for translation on embeddings and decoder outputs too "
        "(default: per data set, 0; fra-eng 0.3).",
        type=float,
    )
    merge_mode: str = option(
        "concat", "How bi- architectures merge directions (default concat).", choices=registry.MERGE_MODES
    )
    embedding_dim: int | None = option(
        None, "Text: token embedding width (default: per data set, 64 for characters).", type=int
    )
    init: str = option(
        "keras",
        "Weight initialization: keras (default) or pytorch (torch.nn's, to rerun PyTorch labs).",
        choices=registry.INITIALIZATIONS,
    )

    optimizer: str = option("adam", "Default adam.", choices=registry.OPTIMIZERS)
    lr: float | None = option(None, "Learning rate (default: per data set, 3e-3 for MNIST).", type=float)
    lr_schedule: str | None = option(
        None, "Per-epoch schedule (default: cosine for MNIST and text).", choices=registry.LR_SCHEDULES
    )
    batch_size: int | None = option(None, "Training batch size (default: per data set, 128 for MNIST).", type=int)
    epochs: int | None = option(None, "Maximum epochs (default: per data set, 20 for MNIST).", type=int)
    iterations: int | None = option(
        None, "Stop after N training batches instead (as the course's '3000 iterations').", type=int
    )
    tbptt: int | None = option(
        None,
        "Truncated backpropagation through time: train on chunks of K steps, states carried between chunks "
        "(language model and per-step labels; see docs/cli.md).",
        type=int,
        metavar="K",
    )
    clipnorm: float | None = option(1.0, "Clip gradients to this norm (default 1.0; 0 turns clipping off).", type=float)
    patience: int | None = option(None, "Early stopping patience in epochs, best weights restored (0 = off).", type=int)
    augment_shift: int | None = option(
        None, "MNIST: random shifts of training images by up to N pixels (default 2; 0 = off).", type=int
    )
    time_budget: float | None = option(
        None, "Seconds of training after which no new epoch starts (default 240; 0 = none).", type=float
    )
    seed: int = option(0, "Seed for weights, data order, augmentation (default 0).", type=int)
    sample_length: int = option(300, "Text: characters per sample in samples.txt (default 300).", type=int)
    jit_compile: str = option(
        "auto",
        "auto (default: Keras' choice, XLA on JAX, eager torch, no XLA on a CPU-only TensorFlow), "
        "on (XLA / torch.compile: faster steps after a long first one), off.",
        choices=tuple(registry.JIT_COMPILE),
    )
    # Scaling out (kerasrnn.training.distribution, docs/distribution.md).
    distribute: str = option(
        "none",
        "none (default), data-parallel (every local device; --devices N for fewer) or multi-worker "
        "(one process per host or device group: TF_CONFIG, KERAS_DISTRIBUTION_*; see 'kerasrnn launch').",
        choices=DISTRIBUTE_MODES,
    )
    devices: int | None = option(
        None, "With --distribute: local devices per process (default all; on a CPU, N simulated ones).", type=int
    )
    scale_lr: str = option(
        "none", "With --distribute: linear multiplies --lr by the number of replicas (default none).", choices=SCALE_LR
    )

    preset: str | None = option(None, "The preset the options came from.", cli=False)
    backend: str | None = option(None, "The Keras backend the run trains on.", cli=False)

    # ------------------------------------------------------------------ #

    @classmethod
    def field_names(cls) -> list[str]:
        return [field.name for field in dataclasses.fields(cls)]

    def resolve(self) -> RunConfig:
        """A validated copy with every default filled in and the architecture's canonical name.

        Raises:
            ConfigError: For an invalid value or an option that does not apply
                to the data set, naming the accepted ones.
        """
        config = dataclasses.replace(self)
        if config.dataset == registry.FILE_DATASET and config.task in registry.TEXT_TASK_DATASETS:
            config.dataset = registry.TEXT_TASK_DATASETS[config.task]  # text files: their own readers
        dataset = registry.dataset_class(config.dataset)
        config._check_names()
        config._check_dataset_options(dataset)
        architecture = registry.architecture(config.arch or dataset.defaults["arch"])
        config.arch = architecture.name
        if config.merge_mode != "concat" and not architecture.bidirectional:
            raise ConfigError(
                f"merge_mode {config.merge_mode!r} merges the two directions of a bi- architecture; "
                f"{config.arch} has one direction"
            )
        defaults = {**dataset.defaults, **architecture.defaults}
        for name in _PER_DATASET:
            if getattr(config, name) is None:
                setattr(config, name, defaults.get(name, _FALLBACKS.get(name, 0)))
        if config.clipnorm == 0:
            config.clipnorm = None
        for name in _PATHS:  # absolute: a run directory is used from anywhere
            if getattr(config, name):
                setattr(config, name, os.path.abspath(os.path.expanduser(getattr(config, name))))
        config._check_values()
        return config

    @property
    def architecture(self) -> registry.Architecture:
        """The parsed ``arch`` (of a resolved configuration)."""
        return registry.architecture(self.arch)

    def make_dataset(self) -> Dataset:
        """The :class:`~kerasrnn.data.Dataset` these options train on."""
        return registry.dataset_class(self.dataset)(self)

    def _check_names(self) -> None:
        if self.dataset == registry.FILE_DATASET and not self.data_file:
            raise ConfigError("dataset 'file' needs a data file (--data FILE)")
        for task, dataset in registry.TEXT_TASK_DATASETS.items():
            if self.dataset == dataset and not self.data_file:
                raise ConfigError(f"dataset {dataset!r} reads your file: give --data FILE --task {task}")
        _choice("optimizer", self.optimizer, registry.OPTIMIZERS)
        _choice("merge mode", self.merge_mode, registry.MERGE_MODES)
        _choice("weight initialization", self.init, registry.INITIALIZATIONS)
        _choice("jit_compile", self.jit_compile, registry.JIT_COMPILE)
        _choice("layout", self.layout, registry.LAYOUTS)
        _choice("distribute", self.distribute, DISTRIBUTE_MODES)
        _choice("scale_lr", self.scale_lr, SCALE_LR)
        if self.lr_schedule is not None:
            _choice("learning-rate schedule", self.lr_schedule, registry.LR_SCHEDULES)
        if self.task is not None:
            _choice("task", self.task, registry.TASK_OVERRIDES)
        if self.tokens is not None:
            _choice("tokens", self.tokens, registry.TOKENS)
        _choice("attention", self.attention, registry.ATTENTIONS)

    def _check_dataset_options(self, dataset: type[Dataset]) -> None:
        """Refuse another data set's option (a value other than its default)."""
        field_defaults = {field.name: field.default for field in dataclasses.fields(self)}
        for name, readers in sorted(registry.dataset_options().items()):
            if dataset.name in readers:
                continue
            value = getattr(self, name)
            # What resolve() fills in for an unset per-data-set option is not "given" either.
            filled = dataset.defaults.get(name, _FALLBACKS.get(name, 0) if name in _PER_DATASET else None)
            if value is None or value == field_defaults[name] or value == filled:
                continue
            raise ConfigError(
                f"{name} = {value!r} does not apply to dataset {dataset.name!r}; it is an option of "
                f"{', '.join(sorted(readers))}"
            )

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
        _integer("min_count", self.min_count, 1)
        _integer("beam", self.beam, 1, 64)
        if self.max_vocabulary is not None:
            _integer("max_vocabulary", self.max_vocabulary, 1)
        for name in ("iterations", "max_samples", "max_chars", "tbptt"):
            if getattr(self, name) is not None:
                _integer(name, getattr(self, name), 1)
        for name in ("length", "samples"):  # generated tasks
            if getattr(self, name) is not None:
                _integer(name, getattr(self, name), 1)
        _integer("digits", self.digits, 1, 16)
        _integer("distractors", self.distractors, 0, 20)
        if self.devices is not None:
            _integer("devices", self.devices, 1)
        if self.distribute == "none" and (self.devices is not None or self.scale_lr != "none"):
            raise ConfigError("--devices and --scale-lr apply with --distribute data-parallel or multi-worker")
        _number("lr", self.lr, low=0.0, low_open=True)
        _number("dropout", self.dropout, low=0.0, high=1.0, high_open=True)
        _number("time_budget", self.time_budget, low=0.0)
        if self.clipnorm is not None:
            _number("clipnorm", self.clipnorm, low=0.0, low_open=True)
        if self.validation_fraction is not None:
            _number("validation_fraction", self.validation_fraction, low=0.0, high=1.0, high_open=True)

    # ------------------------------------------------------------------ #

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> RunConfig:
        """Inverse of :meth:`to_dict`.

        Raises:
            ConfigError: For a key that is not an option (listing them).
        """
        if not isinstance(values, dict):
            raise ConfigError(f"a run configuration must be a JSON object; got {type(values).__name__}")
        unknown = sorted(set(values) - set(cls.field_names()))
        if unknown:
            raise ConfigError(f"unknown option(s) {', '.join(unknown)}; accepted: {', '.join(cls.field_names())}")
        return cls(**values)

    @classmethod
    def from_json(cls, text: str) -> RunConfig:
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
        raise ConfigError(
            f"{name} must be an integer {bounds}; got {value!r}"
            if low is not None
            else f"{name} must be an integer; got {value!r}"
        )


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
