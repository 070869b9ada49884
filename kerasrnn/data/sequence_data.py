"""The container every data loader returns, and the padding sentinel.

Everything here is plain NumPy so that ``import kerasrnn.data`` stays cheap and
backend-neutral (no TensorFlow, no Keras).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

import numpy as np

from kerasrnn.errors import DataError

#: Value used to right-pad variable-length sequences to a common length.
#:
#: Use it with ``keras.layers.Masking(mask_value=PAD_VALUE)``.  Why not 0: zero
#: is an ordinary data value (black MNIST pixels, z-normalised series crossing
#: their mean), and ``Masking`` hides every time step whose features *all* equal
#: the mask value, so zero padding would silently drop real observations.  Why
#: not NaN: ``Masking`` compares with ``!=`` and NaN never compares equal, so
#: nothing would be masked and the NaN would poison every loss.  Why this size:
#: -1e4 is far outside any scaled data, exactly representable in float32 and
#: still finite in float16 (max 65504), so an unmasked pad does not become inf.
PAD_VALUE: float = -1.0e4

#: The tasks a :class:`SequenceData` can describe.
TASKS = ("classification", "regression", "labelling", "language_model", "text_classification", "seq2seq")


@dataclasses.dataclass
class SequenceData:
    """Train / validation / test arrays plus everything needed to describe them.

    Attributes:
        x_train, y_train, x_val, y_val, x_test, y_test: The splits.  ``x`` is
            float32 of shape ``(N, T, F)`` (int32 token ids ``(N, T)`` for
            ``language_model``); ``y`` is int32 class indices for
            ``classification`` / ``labelling`` / ``language_model`` and float32
            for ``regression``.  Text tasks hold int32 token ids right-padded
            with 0: ``text_classification`` ``x`` ``(N, T)`` and class indices
            ``y``; ``seq2seq`` source ids ``x`` ``(N, S)`` and target ids ``y``
            ``(N, T)`` starting with BOS and ending with EOS
            (:mod:`kerasrnn.data.vocabulary`).  A split may be empty (``N == 0``).
        task: One of :data:`TASKS`.
        num_outputs: Number of classes, of regression targets, or the
            vocabulary size.
        source: One human-readable line saying exactly which source was used.
        class_names: Names of the classes, index ``i`` naming label ``i``.
        lengths_train, lengths_val, lengths_test: True lengths of
            variable-length sequences (which are right-padded with
            :data:`PAD_VALUE`); ``None`` when all sequences have the same length.
        info: JSON-serialisable facts worth recording with a run (source,
            split seeds and fractions, checksums, baselines, scaling ...).
        references: ``seq2seq`` only: split -> for every row, every reference
            translation of its source sentence (raw text), for BLEU against
            all of them.  Not part of :meth:`digest` (derived from the data).
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    task: str
    num_outputs: int
    source: str
    class_names: list | None = None
    lengths_train: np.ndarray | None = None
    lengths_val: np.ndarray | None = None
    lengths_test: np.ndarray | None = None
    info: dict = dataclasses.field(default_factory=dict)
    references: dict[str, list[list[str]]] | None = None

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise DataError(f"task must be one of {', '.join(TASKS)}; got {self.task!r}")
        for split in ("train", "val", "test"):
            x, y = getattr(self, f"x_{split}"), getattr(self, f"y_{split}")
            if len(x) != len(y):
                raise DataError(
                    f"x_{split} and y_{split} must have the same number of samples; got {len(x)} and {len(y)}"
                )
            if self.references is not None and split in self.references and len(self.references[split]) != len(x):
                raise DataError(
                    f"references of the {split} split must have one entry per sample; "
                    f"got {len(self.references[split])} for {len(x)} samples"
                )
            lengths = getattr(self, f"lengths_{split}")
            if lengths is not None and len(lengths) != len(x):
                raise DataError(
                    f"lengths_{split} must have one entry per sample; got {len(lengths)} for {len(x)} samples"
                )

    @property
    def input_shape(self) -> tuple:
        """Shape of one input sample (without the batch dimension)."""
        return tuple(self.x_train.shape[1:])

    @property
    def variable_length(self) -> bool:
        """Whether the sequences are right-padded with :data:`PAD_VALUE`."""
        return self.lengths_train is not None

    def summary(self) -> str:
        """One line describing the data, e.g. for a CLI log."""
        return (
            f"{self.source}: task={self.task}, outputs={self.num_outputs}, "
            f"input shape={self.input_shape}, train/val/test="
            f"{len(self.x_train)}/{len(self.x_val)}/{len(self.x_test)}"
        )

    def info_json(self) -> str:
        """:meth:`describe` as a JSON string."""
        return json.dumps(self.describe(), indent=2, sort_keys=True)

    def describe(self) -> dict[str, Any]:
        """A JSON-serialisable description of the data for ``config.json``."""
        return {
            "source": self.source,
            "task": self.task,
            "num_outputs": int(self.num_outputs),
            "class_names": self.class_names,
            "input_shape": [int(d) for d in self.input_shape],
            "sizes": {
                "train": int(len(self.x_train)),
                "val": int(len(self.x_val)),
                "test": int(len(self.x_test)),
            },
            "variable_length": self.variable_length,
            "sha256": self.digest(),
            "info": self.info,
        }

    def digest(self) -> str:
        """SHA-256 of every split's arrays (values, dtypes, shapes) and the class names.

        Two loads give the same digest exactly when a model would see the
        same samples: ``config.json`` records it, and ``evaluate`` and
        ``fit --resume`` compare it with the data they load.
        """
        digest = hashlib.sha256()
        for split in ("train", "val", "test"):
            for prefix in ("x_", "y_", "lengths_"):
                array = getattr(self, f"{prefix}{split}")
                if array is None:
                    digest.update(b"none;")
                    continue
                array = np.ascontiguousarray(array)
                digest.update(f"{prefix}{split}:{array.dtype.str}:{array.shape};".encode())
                digest.update(array.tobytes())
        digest.update(json.dumps(self.class_names).encode())
        return digest.hexdigest()
