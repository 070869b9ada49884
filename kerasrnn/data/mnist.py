"""MNIST as sequences: IDX files, tensorflow-datasets, or the bundled test set.

Sources, tried in this order by :func:`load_mnist`:

1. IDX files in ``data_dir`` (or ``$KERASRNN_DATA``, or its ``mnist/``
   sub-directory), with the standard names, gzipped or not.
2. tensorflow-datasets: an already prepared ``mnist`` in the tfds data
   directory; the network only when ``download=True`` (and only after a quick
   reachability check, so an offline machine fails in seconds).
3. The real MNIST *test* set bundled with the package, used under the
   *mnist-10k protocol*: a fixed, seeded, stratified split of its 10,000 images
   into 8,000 training and 2,000 test images.

:class:`MnistDataset` is ``--dataset mnist``; :class:`MnistShift` its
training augmentation.

The sequence layouts are ``"rows"`` (28 steps of 28 pixels), ``"pixel"`` (784
steps of one pixel) and ``"permuted"`` (784 steps, pixels in a fixed seeded
random order: "permuted sequential MNIST").
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from kerasrnn.data.dataset import Augmentation, Dataset
from kerasrnn.data.mnist_presets import PRESETS
from kerasrnn.data.mnist_sources import (
    BUNDLED_MD5,
    MnistArrays,
    _try_tfds,
    find_mnist_idx_files,
    load_mnist_bundled,
    load_mnist_idx,
)
from kerasrnn.data.sequence_data import SequenceData
from kerasrnn.data.splits import (
    file_md5,
    indices_digest,
    split_indices,
    stable_permutation,
)
from kerasrnn.errors import ConfigError, DataError

LAYOUTS = ("rows", "pixel", "permuted")
SOURCES = ("auto", "idx", "tfds", "bundled")
CLASS_NAMES = [str(digit) for digit in range(10)]
#: Fraction of the 10,000 test images used as test set under mnist-10k.
MNIST_10K_TEST_FRACTION = 0.2
#: The seed of the mnist-10k train/test split, the same for every run (``seed``
#: only draws the validation hold-out and everything else a run randomizes).
MNIST_10K_SPLIT_SEED = 0


def mnist_10k_split(
    x: np.ndarray, y: np.ndarray, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The mnist-10k protocol: a seeded stratified 80/20 split of the test set.

    Each class is split 80/20 (800/200 for a class of 1,000 images; class
    quotas use largest-remainder rounding so that the 10,000 images give
    exactly 8,000 train and 2,000 test).  The shuffle is a SplitMix64 hash of
    ``(seed, index)`` (see :mod:`kerasrnn.data.splits`), so the split is the
    same on every machine and NumPy version.

    Returns:
        ``(x_train, y_train, x_test, y_test)``.
    """
    train_idx, test_idx = mnist_10k_indices(y, seed)
    return x[train_idx], y[train_idx], x[test_idx], y[test_idx]


def mnist_10k_indices(y: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Sorted ``(train_indices, test_indices)`` of :func:`mnist_10k_split`."""
    if len(y) < 2:
        raise DataError(f"the mnist-10k split needs at least 2 images; got {len(y)}")
    return split_indices(len(y), MNIST_10K_TEST_FRACTION, seed, labels=y)


def _to_layout(images: np.ndarray, layout: str, permutation: np.ndarray | None) -> np.ndarray:
    """uint8 ``(N, 28, 28)`` images to float32 sequences in [0, 1]."""
    x = images.astype(np.float32) / np.float32(255.0)
    if layout == "rows":
        return x
    x = x.reshape(len(x), 28 * 28)
    if layout == "permuted":
        x = x[:, permutation]
    return np.ascontiguousarray(x[..., np.newaxis])


def _idx_directories(data_dir: str | os.PathLike | None) -> list[Path]:
    if data_dir is not None:
        directory = Path(data_dir).expanduser()
        if not directory.is_dir():
            raise DataError(f"MNIST data directory does not exist: {directory}")
        return [directory, directory / "mnist"]
    env = os.environ.get("KERASRNN_DATA")
    if env:
        directory = Path(env).expanduser()
        return [directory, directory / "mnist"]
    return []


def load_mnist(
    data_dir: str | os.PathLike | None = None,
    layout: str = "rows",
    validation_fraction: float = 0.1,
    seed: int = 0,
    download: bool = False,
    permutation_seed: int = 0,
    source: str = "auto",
    tfds_data_dir: str | os.PathLike | None = None,
    validation_split: float | None = None,
) -> SequenceData:
    """Load MNIST as a sequence-classification problem.

    Args:
        data_dir: Directory with MNIST IDX files (also searched: its
            ``mnist/`` sub-directory).  Default: ``$KERASRNN_DATA``.
        layout: ``"rows"`` -> ``(N, 28, 28)``, one row per step;
            ``"pixel"`` -> ``(N, 784, 1)``, one pixel per step in raster order;
            ``"permuted"`` -> ``(N, 784, 1)``, pixels in a fixed order drawn
            with ``permutation_seed``.
        validation_fraction: Fraction of the training part held out
            (stratified, seeded) for validation.
        seed: Seed of the validation split (the mnist-10k train/test split is
            fixed: :data:`MNIST_10K_SPLIT_SEED`).
        download: Let tensorflow-datasets download MNIST if it is not prepared.
        permutation_seed: Seed of the pixel order for ``layout="permuted"``;
            independent of ``seed`` so that all runs see the same task.
        source: ``"auto"`` (IDX files, then tfds, then the bundled test set),
            or one of ``"idx"``, ``"tfds"``, ``"bundled"`` to require a source.
        tfds_data_dir: tfds data directory (default: tfds' own default).
        validation_split: Alias of ``validation_fraction`` (Keras' name).

    Returns:
        :class:`SequenceData` with pixels scaled to [0, 1], int32 labels and
        ``info`` recording the source, protocol, split seeds, sizes and
        checksums.

    Raises:
        DataError: For an unknown layout or source, a missing/corrupt data
            directory, or when a required ``source`` is unavailable.
    """
    if validation_split is not None:
        if validation_fraction not in (0.1, validation_split):
            raise DataError(
                "give validation_fraction or its alias validation_split, not both; got "
                f"{validation_fraction} and {validation_split}"
            )
        validation_fraction = validation_split
    if layout not in LAYOUTS:
        raise DataError(f"MNIST layout must be one of {', '.join(LAYOUTS)}; got {layout!r}")
    if source not in SOURCES:
        raise DataError(f"MNIST source must be one of {', '.join(SOURCES)}; got {source!r}")

    tried: list[str] = []
    info: dict = {"dataset": "mnist"}
    arrays: MnistArrays | None = None
    description = ""

    if source in ("auto", "idx"):
        directories = _idx_directories(data_dir)
        for directory in directories:
            if not directory.is_dir():
                continue
            arrays = load_mnist_idx(directory)
            if arrays is not None:
                files = find_mnist_idx_files(directory)
                info.update(
                    source_kind="idx",
                    files={path.name: file_md5(path) for path in files.values()},
                    directory=str(directory),
                )
                description = f"MNIST IDX files in {directory}"
                break
            tried.append(f"idx: no MNIST IDX files in {directory}")
        if not directories:
            tried.append("idx: no data_dir given and $KERASRNN_DATA not set")
        if arrays is None and source == "idx":
            raise DataError(f"MNIST source 'idx' requested but not available ({'; '.join(tried)})")

    if arrays is None and source in ("auto", "tfds"):
        arrays, reason, facts = _try_tfds(tfds_data_dir, download, network_timeout=3.0)
        if arrays is not None:
            info.update(source_kind="tfds", **facts)
            description = f"tensorflow-datasets mnist {facts['tfds_dataset_version']} ({facts['tfds_dataset_dir']})"
        else:
            tried.append(f"tfds: {reason}")
            if source == "tfds":
                raise DataError(f"MNIST source 'tfds' requested but not available ({reason})")

    if arrays is None:
        images, labels = load_mnist_bundled()
        arrays = MnistArrays(None, None, images, labels)
        info.update(source_kind="bundled", files=dict(BUNDLED_MD5))
        description = "bundled MNIST test set"

    if arrays.x_train is None:
        # The protocol's split is fixed: results over --seed values are scored on one test set.
        train_idx, test_idx = mnist_10k_indices(arrays.y_test, MNIST_10K_SPLIT_SEED)
        x_train, y_train = arrays.x_test[train_idx], arrays.y_test[train_idx]
        x_test, y_test = arrays.x_test[test_idx], arrays.y_test[test_idx]
        protocol = "mnist-10k"
        source_line = (
            f"{description} (mnist-10k protocol: {len(x_train)} train / {len(x_test)} test, "
            f"fixed split seed {MNIST_10K_SPLIT_SEED})"
        )
        info["mnist_10k"] = {
            "seed": MNIST_10K_SPLIT_SEED,
            "test_fraction": MNIST_10K_TEST_FRACTION,
            "test_indices_sha256_16": indices_digest(test_idx),
        }
    else:
        x_train, y_train, x_test, y_test = arrays
        protocol = "standard"
        source_line = f"{description} (standard split: {len(x_train)} train / {len(x_test)} test)"

    train_idx, val_idx = split_indices(len(y_train), validation_fraction, seed, labels=y_train)
    permutation = stable_permutation(28 * 28, permutation_seed) if layout == "permuted" else None

    info.update(
        protocol=protocol,
        layout=layout,
        split_seed=seed,
        validation_fraction=validation_fraction,
        validation_indices_sha256_16=indices_digest(val_idx),
        sizes={"train": len(train_idx), "val": len(val_idx), "test": len(y_test)},
        sources_tried=tried,
        pixel_scale="uint8 / 255 -> [0, 1]",
    )
    if permutation is not None:
        info["permutation_seed"] = permutation_seed
        info["permutation_sha256_16"] = indices_digest(permutation)

    return SequenceData(
        x_train=_to_layout(x_train[train_idx], layout, permutation),
        y_train=y_train[train_idx].astype(np.int32),
        x_val=_to_layout(x_train[val_idx], layout, permutation),
        y_val=y_train[val_idx].astype(np.int32),
        x_test=_to_layout(x_test, layout, permutation),
        y_test=y_test.astype(np.int32),
        task="classification",
        num_outputs=10,
        source=source_line,
        class_names=list(CLASS_NAMES),
        info=info,
    )


def shift_images(images: np.ndarray, max_shift: int, rng: np.random.Generator) -> np.ndarray:
    """Shift each ``(H, W)`` image by a random ``dy, dx`` in ``[-max_shift, max_shift]``.

    Pixels shifted in are 0 (background), nothing wraps around.
    """
    n, height, width = images.shape
    s = int(max_shift)
    padded = np.pad(images, ((0, 0), (s, s), (s, s)))
    dy = rng.integers(-s, s + 1, size=n)
    dx = rng.integers(-s, s + 1, size=n)
    rows = (s - dy)[:, None] + np.arange(height)[None, :]
    cols = (s - dx)[:, None] + np.arange(width)[None, :]
    return padded[np.arange(n)[:, None, None], rows[:, :, None], cols[:, None, :]]


class MnistShift:
    """Random shifts of MNIST training sequences in any layout (rows, pixel, permuted)."""

    def __init__(self, max_shift: int, layout: str, permutation_seed: int = 0) -> None:
        self.max_shift = int(max_shift)
        self.layout = layout
        self.permutation = stable_permutation(784, permutation_seed) if layout == "permuted" else None

    def __call__(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if self.layout == "rows":
            return shift_images(x, self.max_shift, rng)
        flat = x.reshape(len(x), 784)
        if self.permutation is not None:  # back to raster order, shift, permute again
            raster = np.empty_like(flat)
            raster[:, self.permutation] = flat
            flat = raster
        shifted = shift_images(flat.reshape(-1, 28, 28), self.max_shift, rng).reshape(len(x), 784)
        if self.permutation is not None:
            shifted = shifted[:, self.permutation]
        return shifted.reshape(x.shape)


class MnistDataset(Dataset):
    """``--dataset mnist``: digit classification, row by row, pixel by pixel or permuted.

    Defaults were chosen by experiment on the 2-core development CPU so that
    ``kerasrnn fit --arch bigru`` finishes in under 5 minutes with the
    TensorFlow backend and reaches >= 97% test accuracy on mnist-10k (see
    docs/cli.md): 128 units, batch 128, Adam 3e-3 with a cosine decay over 20
    epochs, random shifts of up to 2 pixels on the training images, and a
    240-second training budget that ends training early (annealing the
    learning rate on the way) on a slower machine.
    """

    name = "mnist"
    defaults = dict(
        arch="bigru",
        units=128,
        batch_size=128,
        epochs=20,
        lr=3e-3,
        lr_schedule="cosine",
        patience=6,
        augment_shift=2,
        time_budget=240.0,
    )
    options = ("layout", "data_dir", "augment_shift")
    loader = staticmethod(load_mnist)
    presets = PRESETS

    def load(self) -> SequenceData:
        config = self.config
        options: dict[str, Any] = {"layout": config.layout, "seed": config.seed}
        if config.validation_fraction is not None:
            options["validation_fraction"] = config.validation_fraction
        if config.data_dir:  # a directory the user names must hold the files: no silent fallback
            directories = _idx_directories(config.data_dir)
            if not any(directory.is_dir() and find_mnist_idx_files(directory) for directory in directories):
                raise ConfigError(
                    f"data_dir {config.data_dir} holds no MNIST IDX files (t10k-images-idx3-ubyte[.gz] ...), "
                    f"nor does its mnist/ subdirectory; leave it out to use the bundled MNIST test set"
                )
            options.update(data_dir=config.data_dir, source="idx")
        return load_mnist(**options)

    def augmentation(self, data: SequenceData) -> Augmentation | None:
        if not self.config.augment_shift:
            return None
        return MnistShift(self.config.augment_shift, self.config.layout, data.info.get("permutation_seed", 0))

    def prepare_inputs(self, x: np.ndarray, info: Mapping[str, Any], integral: bool) -> tuple[np.ndarray, list[str]]:
        if integral or float(np.max(x)) > 1.5:
            return x / np.float32(255.0), ["pixels divided by 255"]
        return x, []
