"""From a :class:`RunConfig` to the data ``model.fit`` sees.

* :func:`load_run_data` loads the data set of a configuration (and keeps a
  seeded subset with ``max_samples``), and checks it;
* :class:`ShuffledBatches` feeds fixed-length training data: a permutation and
  augmentation that depend only on ``(seed, epoch)`` (so a resumed run sees
  the same batches as an uninterrupted one), full batches only;
* :class:`BucketedBatches` feeds variable-length data, batched by length
  (:class:`~kerasrnn.data.length_buckets.LengthBucketedSequence`).

A data set's augmentation (:meth:`kerasrnn.data.Dataset.augmentation`) is
applied per training batch.
"""

from __future__ import annotations

import dataclasses
import math

import keras
import numpy as np

from kerasrnn.data import Dataset, SequenceData
from kerasrnn.data.dataset import Augmentation
from kerasrnn.data.length_buckets import LengthBucketedSequence
from kerasrnn.data.splits import indices_digest, stable_permutation
from kerasrnn.errors import DataError
from kerasrnn.training.run_config import RunConfig
from kerasrnn.training.sentence_pair_batches import SentencePairBatches


def load_run_data(config: RunConfig, dataset: Dataset | None = None) -> SequenceData:
    """The data of ``config`` (a resolved configuration), subsampled if asked."""
    data = (dataset or config.make_dataset()).load()
    if config.max_samples:
        data = subsample(data, config.max_samples, config.seed)
    for split in ("train", "val", "test"):
        x = getattr(data, f"x_{split}")
        if x.dtype.kind == "f" and len(x) and not np.isfinite(x).all():
            raise DataError(f"{data.source}: x_{split} holds NaN or infinite values")
    if len(data.x_train) == 0:
        raise DataError(f"{data.source}: the training split is empty")
    return data


def subsample(data: SequenceData, max_samples: int, seed: int) -> SequenceData:
    """Keep a seeded random subset of at most ``max_samples`` per split."""
    changes, kept = {}, {}
    for split in ("train", "val", "test"):
        n = len(getattr(data, f"x_{split}"))
        if n <= max_samples:
            continue
        index = np.sort(stable_permutation(n, seed)[:max_samples])
        kept[split] = {"from": n, "kept": int(max_samples), "indices_sha256_16": indices_digest(index)}
        for prefix in ("x_", "y_", "lengths_"):
            value = getattr(data, f"{prefix}{split}")
            if value is not None:
                changes[f"{prefix}{split}"] = value[index]
        if data.references is not None and split in data.references:
            references = changes.setdefault("references", dict(data.references))
            references[split] = [data.references[split][i] for i in index]
    if not changes:
        return data
    info = {**data.info, "max_samples": {"max_samples": max_samples, "seed": seed, "splits": kept}}
    sizes = ", ".join(f"{split} {v['kept']} of {v['from']}" for split, v in kept.items())
    return dataclasses.replace(data, **changes, info=info, source=f"{data.source} [subset: {sizes}]")


# --------------------------------------------------------------------------- #
# Batches
# --------------------------------------------------------------------------- #


class ShuffledBatches(keras.utils.PyDataset):
    """Fixed-length training batches, reshuffled (and augmented) per epoch.

    Batch ``i`` of epoch ``e`` depends only on ``(seed, e, i)``: set
    :attr:`epoch` before an epoch starts (the trainer does, at
    ``on_epoch_begin``).  Only full batches are served (the samples left over
    differ from epoch to epoch), which keeps one input shape for compiled
    training steps; with fewer samples than ``batch_size``, one batch of all.
    """

    def __init__(
        self, x: np.ndarray, y: np.ndarray, batch_size: int, seed: int = 0, augment: Augmentation | None = None
    ) -> None:
        super().__init__()
        self.x, self.y = x, y
        self.batch_size = min(int(batch_size), len(x))
        self.seed = int(seed)
        self.augment = augment
        self.epoch = 0
        self._cached_epoch, self._cached_order = None, None

    def __len__(self) -> int:
        return len(self.x) // self.batch_size

    def _order(self) -> np.ndarray:
        if self._cached_epoch != self.epoch:
            self._cached_order = np.random.default_rng([self.seed, self.epoch]).permutation(len(self.x))
            self._cached_epoch = self.epoch
        return self._cached_order

    def __getitem__(self, index: int):
        if not 0 <= index < len(self):
            raise IndexError(f"batch index {index} out of range for {len(self)} batches")
        order = self._order()
        take = order[index * self.batch_size : (index + 1) * self.batch_size]
        x = self.x[take]
        if self.augment is not None:
            x = self.augment(x, np.random.default_rng([self.seed, self.epoch, index, 1]))
        return x, self.y[take]

    def on_epoch_end(self) -> None:
        # The trainer sets the epoch explicitly; this keeps plain fit() working.
        self.epoch += 1


class BucketedBatches(LengthBucketedSequence):
    """:class:`LengthBucketedSequence` whose epoch the trainer sets (for resumed runs)."""

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)
        self._batches = self._make_batches(self.epoch)


def bucket_width_multiple(max_length: int) -> int:
    """Round batch widths to limit distinct shapes (each may recompile) to about 8."""
    return max(1, math.ceil(max_length / 8))


def step_targets(x: np.ndarray, y: np.ndarray, task: str) -> np.ndarray:
    """Per-step targets cut to the padded width of ``x``.

    The file loader pads ``x`` to the longest sequence but keeps ``y`` as the
    file gave it, which is wider when no sequence uses the last steps.
    """
    if task == "labelling" and y.ndim >= 2 and y.shape[1] > x.shape[1]:
        return y[:, : x.shape[1]]
    return y


def train_batches(config: RunConfig, data: SequenceData, augment: Augmentation | None = None) -> keras.utils.PyDataset:
    """The training input of ``model.fit``."""
    if config.tbptt:
        from kerasrnn.training.truncated_bptt import chunked_batches

        return chunked_batches(config, data)
    if data.task == "seq2seq":
        return SentencePairBatches(
            data.x_train,
            data.y_train,
            batch_size=config.batch_size,
            shuffle=True,
            seed=config.seed,
            pad_to_multiple=bucket_width_multiple(max(data.x_train.shape[1], data.y_train.shape[1])),
        )
    if data.variable_length:
        return BucketedBatches(
            data.x_train,
            step_targets(data.x_train, data.y_train, data.task),
            data.lengths_train,
            batch_size=config.batch_size,
            shuffle=True,
            seed=config.seed,
            pad_to_multiple=bucket_width_multiple(data.x_train.shape[1]),
            sequence_targets=data.task == "labelling",
        )
    return ShuffledBatches(data.x_train, data.y_train, config.batch_size, config.seed, augment)


def eval_input(
    data: SequenceData, split: str, batch_size: int
) -> tuple[np.ndarray, np.ndarray] | BucketedBatches | None:
    """``(x, y)`` arrays, or a :class:`BucketedBatches`, for evaluating a split; ``None`` if empty."""
    x, y = getattr(data, f"x_{split}"), getattr(data, f"y_{split}")
    if len(x) == 0:
        return None
    if data.task == "seq2seq":
        return SentencePairBatches(
            x,
            y,
            batch_size=batch_size,
            shuffle=False,
            pad_to_multiple=bucket_width_multiple(max(x.shape[1], y.shape[1])),
        )
    if data.variable_length:
        return BucketedBatches(
            x,
            step_targets(x, y, data.task),
            getattr(data, f"lengths_{split}"),
            batch_size=batch_size,
            shuffle=False,
            pad_to_multiple=bucket_width_multiple(x.shape[1]),
            sequence_targets=data.task == "labelling",
        )
    return (x, y)
