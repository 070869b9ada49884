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

The sequence layouts are ``"rows"`` (28 steps of 28 pixels), ``"pixel"`` (784
steps of one pixel) and ``"permuted"`` (784 steps, pixels in a fixed seeded
random order: "permuted sequential MNIST").
"""

from __future__ import annotations

import gzip
import logging
import os
import socket
import threading
import zlib
from pathlib import Path
from typing import NamedTuple

import numpy as np

from kerasrnn.data.dataset import DataError, SequenceData
from kerasrnn.data.splits import (
    file_md5,
    indices_digest,
    split_indices,
    stable_permutation,
)

logger = logging.getLogger(__name__)

BUNDLED_DIR = Path(__file__).resolve().parent / "bundled" / "mnist"
BUNDLED_MD5 = {
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
LAYOUTS = ("rows", "pixel", "permuted")
SOURCES = ("auto", "idx", "tfds", "bundled")
CLASS_NAMES = [str(digit) for digit in range(10)]
#: Fraction of the 10,000 test images used as test set under mnist-10k.
MNIST_10K_TEST_FRACTION = 0.2
#: Host the tfds MNIST builder downloads from (probed before downloading).
TFDS_DOWNLOAD_HOST = "storage.googleapis.com"

_IDX_DTYPES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"

# Accepted file names per role: the standard name, the dotted variant some
# mirrors use ("train-images.idx3-ubyte"), each optionally gzipped.
_IDX_BASENAMES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


class MnistArrays(NamedTuple):
    """Raw MNIST arrays: uint8 images ``(N, 28, 28)`` and uint8 labels ``(N,)``.

    ``x_train`` and ``y_train`` are ``None`` when only the test set was found;
    the caller must then use the mnist-10k protocol (:func:`mnist_10k_split`).
    """

    x_train: np.ndarray | None
    y_train: np.ndarray | None
    x_test: np.ndarray
    y_test: np.ndarray


# --------------------------------------------------------------------------- #
# IDX files
# --------------------------------------------------------------------------- #


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (the MNIST file format), gzipped or not.

    Compression is detected from the content (gzip magic bytes), not from the
    file name.  The header (``0x00 0x00 <dtype code> <ndim>``, then ``ndim``
    big-endian uint32 sizes) and the amount of data are validated.

    Args:
        path: The file.

    Returns:
        An array in native byte order with the shape given in the header.

    Raises:
        DataError: If the file is missing, not IDX, corrupt or truncated.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"IDX file not found: {path}") from None
    except OSError as error:
        raise DataError(f"cannot read IDX file {path}: {error.strerror or error}") from None
    if raw[:2] == _GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as error:
            raise DataError(f"{path}: gzip data is corrupt or truncated ({error})") from None
    if len(raw) < 4:
        raise DataError(f"{path}: expected a 4-byte IDX magic number, found {len(raw)} byte(s)")
    zero1, zero2, dtype_code, ndim = raw[:4]
    if zero1 != 0 or zero2 != 0 or dtype_code not in _IDX_DTYPES or ndim == 0:
        raise DataError(
            f"{path}: not an IDX file (expected magic 00 00 <type in "
            f"{', '.join(f'{code:02x}' for code in _IDX_DTYPES)}> <ndim >= 1>, "
            f"found {raw[:4].hex(' ')})"
        )
    header_size = 4 + 4 * ndim
    if len(raw) < header_size:
        raise DataError(
            f"{path}: truncated header (expected {header_size} bytes for {ndim} "
            f"dimension(s), found {len(raw)})"
        )
    shape = tuple(int(size) for size in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = _IDX_DTYPES[dtype_code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    found = len(raw) - header_size
    if found != expected:
        problem = "truncated" if found < expected else "has trailing bytes"
        raise DataError(
            f"{path}: {problem}: header says shape {shape} of {dtype.name} "
            f"({expected} data bytes), found {found} data bytes"
        )
    array = np.frombuffer(raw, dtype=dtype, offset=header_size).reshape(shape)
    return array.astype(dtype.newbyteorder("="), copy=True)


def find_mnist_idx_files(directory: str | os.PathLike) -> dict[str, Path]:
    """Find MNIST IDX files in a directory.

    Accepted names are the standard ones (``train-images-idx3-ubyte``,
    ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``,
    ``t10k-labels-idx1-ubyte``), the dotted variant
    (``train-images.idx3-ubyte``), each optionally with ``.gz``.

    Returns:
        A dict from role (``train_images``, ``train_labels``, ``test_images``,
        ``test_labels``) to path, with only the roles found.
    """
    directory = Path(directory)
    found: dict[str, Path] = {}
    for role, base in _IDX_BASENAMES.items():
        stem, kind = base.rsplit("-idx", 1)
        for name in (base, f"{stem}.idx{kind}"):
            for candidate in (directory / name, directory / f"{name}.gz"):
                if candidate.is_file() and role not in found:
                    found[role] = candidate
    return found


def _check_images_labels(images: np.ndarray, labels: np.ndarray, what: str) -> None:
    if images.ndim != 3 or images.shape[1:] != (28, 28):
        raise DataError(f"{what} images: expected shape (N, 28, 28), found {images.shape}")
    if labels.ndim != 1:
        raise DataError(f"{what} labels: expected shape (N,), found {labels.shape}")
    if len(images) != len(labels):
        raise DataError(
            f"{what}: expected as many labels as images, found {len(labels)} labels "
            f"for {len(images)} images"
        )
    if len(labels) and (labels.min() < 0 or labels.max() > 9):
        raise DataError(
            f"{what} labels: expected digits 0-9, found values from {labels.min()} to {labels.max()}"
        )


def load_mnist_idx(directory: str | os.PathLike) -> MnistArrays | None:
    """Load MNIST from IDX files in ``directory``.

    Returns:
        :class:`MnistArrays`, with ``x_train``/``y_train`` set to ``None`` when
        only the ``t10k`` pair is present (use the mnist-10k protocol then), or
        ``None`` when the directory holds no MNIST IDX file at all.

    Raises:
        DataError: If the directory does not exist, a set is incomplete (e.g.
            images without labels) or a file is corrupt.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise DataError(f"MNIST data directory does not exist: {directory}")
    files = find_mnist_idx_files(directory)
    if not files:
        return None
    for prefix in ("train", "test"):
        have = [role for role in (f"{prefix}_images", f"{prefix}_labels") if role in files]
        if len(have) == 1:
            missing = _IDX_BASENAMES[
                f"{prefix}_labels" if have[0].endswith("images") else f"{prefix}_images"
            ]
            raise DataError(
                f"{directory}: found {files[have[0]].name} but not its companion {missing}[.gz]"
            )
    if "test_images" not in files:
        raise DataError(
            f"{directory}: found the MNIST training files but not the test files "
            f"t10k-images-idx3-ubyte[.gz] and t10k-labels-idx1-ubyte[.gz]"
        )
    x_test, y_test = read_idx(files["test_images"]), read_idx(files["test_labels"])
    _check_images_labels(x_test, y_test, f"{directory} test")
    x_train = y_train = None
    if "train_images" in files:
        x_train, y_train = read_idx(files["train_images"]), read_idx(files["train_labels"])
        _check_images_labels(x_train, y_train, f"{directory} train")
    return MnistArrays(x_train, y_train, x_test, y_test)


# --------------------------------------------------------------------------- #
# tensorflow-datasets
# --------------------------------------------------------------------------- #


def _host_reachable(host: str, port: int = 443, timeout: float = 3.0) -> bool:
    """Whether a TCP connection to ``host`` succeeds within ``timeout`` seconds.

    The DNS lookup has no timeout of its own, so the probe runs in a daemon
    thread that is abandoned after ``timeout`` seconds.
    """
    result = {"ok": False}

    def probe() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                result["ok"] = True
        except OSError:
            pass

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout)
    return result["ok"]


def _batched_numpy(dataset, batch_size: int = 10_000) -> tuple[np.ndarray, np.ndarray]:
    """Materialise a supervised tf.data dataset as two NumPy arrays.

    ``tfds.load(batch_size=-1)`` would do this in one step, but it sizes the
    batch from the split metadata and aborts the whole process (C++
    ``std::length_error``) when that metadata is missing, e.g. for a partially
    written cache or under ``tfds.testing.mock_data``.  Fixed-size batches
    work in every case.
    """
    import tensorflow_datasets as tfds

    images, labels = [], []
    for image_batch, label_batch in tfds.as_numpy(dataset.batch(batch_size)):
        images.append(image_batch)
        labels.append(label_batch)
    if not images:
        return np.zeros((0, 28, 28), np.uint8), np.zeros((0,), np.uint8)
    x = np.concatenate(images)
    if x.ndim == 4 and x.shape[-1] == 1:
        x = x[..., 0]
    return x.astype(np.uint8), np.concatenate(labels).astype(np.uint8)


def _tfds_data_dir(data_dir: str | os.PathLike | None) -> Path:
    """tfds' data directory: the given one, else ``$TFDS_DATA_DIR``, else ``~/tensorflow_datasets``."""
    if data_dir is None:
        data_dir = os.environ.get("TFDS_DATA_DIR") or os.path.join("~", "tensorflow_datasets")
    return Path(data_dir).expanduser()


def _tfds_mnist_on_disk(data_dir: str | os.PathLike | None) -> bool:
    """Whether some version of tfds' mnist has its metadata written (a prepared cache)."""
    return any(_tfds_data_dir(data_dir).glob("mnist/*/dataset_info.json"))


def _try_tfds(
    data_dir: str | os.PathLike | None, download: bool, network_timeout: float
) -> tuple[MnistArrays | None, str, dict]:
    """Load MNIST with tensorflow-datasets; ``(arrays | None, reason, facts)``."""
    if not _tfds_mnist_on_disk(data_dir):
        # Decided before importing tfds, which imports TensorFlow: seconds and
        # hundreds of MB wasted on the JAX and torch backends when it cannot help.
        where = _tfds_data_dir(data_dir)
        if not download:
            return None, f"no prepared tfds mnist in {where} (download=False)", {}
        if not _host_reachable(TFDS_DOWNLOAD_HOST, timeout=network_timeout):
            return None, f"no prepared tfds mnist in {where} and {TFDS_DOWNLOAD_HOST} is unreachable (offline?)", {}
    try:
        import tensorflow_datasets as tfds
    except ImportError as error:
        return None, f"tensorflow_datasets is not importable ({error})", {}
    data_dir = None if data_dir is None else str(data_dir)
    absl_logger = logging.getLogger("absl")
    absl_level = absl_logger.level
    absl_logger.setLevel(logging.ERROR)  # silence "Variant folder ... has no dataset_info.json"
    try:
        builder = tfds.builder("mnist", data_dir=data_dir)
        prepared = builder.is_prepared()
    except Exception as error:  # tfds raises many types for a broken cache
        return None, f"tfds could not open its mnist builder ({type(error).__name__}: {error})", {}
    finally:
        absl_logger.setLevel(absl_level)
    facts = {
        "tfds_version": getattr(tfds, "__version__", "unknown"),
        "tfds_dataset_dir": str(builder.data_dir),
        "tfds_dataset_version": str(builder.version),
    }
    if not prepared:
        if not download:
            return None, f"no prepared tfds mnist in {builder.data_dir} (download=False)", facts
        if not _host_reachable(TFDS_DOWNLOAD_HOST, timeout=network_timeout):
            return (
                None,
                f"no prepared tfds mnist in {builder.data_dir} and {TFDS_DOWNLOAD_HOST} "
                f"is unreachable (offline?)",
                facts,
            )
    try:
        train, test = tfds.load(
            "mnist",
            split=["train", "test"],
            as_supervised=True,
            data_dir=data_dir,
            download=download and not prepared,
        )
        x_train, y_train = _batched_numpy(train)
        x_test, y_test = _batched_numpy(test)
    except Exception as error:  # network, cache and decoding errors alike
        return None, f"tfds failed to load mnist ({type(error).__name__}: {error})", facts
    _check_images_labels(x_train, y_train, "tfds mnist train")
    _check_images_labels(x_test, y_test, "tfds mnist test")
    facts["tfds_downloaded"] = bool(download and not prepared)
    return MnistArrays(x_train, y_train, x_test, y_test), "", facts


def load_mnist_tfds(
    data_dir: str | os.PathLike | None = None,
    download: bool = False,
    network_timeout: float = 3.0,
) -> MnistArrays | None:
    """Load MNIST through tensorflow-datasets, or return ``None`` quickly.

    Args:
        data_dir: tfds data directory (``None``: tfds' default, which honours
            ``$TFDS_DATA_DIR``, else ``~/tensorflow_datasets``).
        download: Whether to download and prepare MNIST when it is not
            already prepared.  Before downloading, the download host is probed
            for ``network_timeout`` seconds so that an offline machine does not
            hang.
        network_timeout: Seconds allowed for that probe.

    Returns:
        :class:`MnistArrays` (60,000 train / 10,000 test), or ``None`` when
        tensorflow-datasets is not installed, MNIST is not prepared and
        ``download`` is false, the network is unreachable, or loading fails.
        The reason is logged at INFO level on the ``kerasrnn.data.mnist``
        logger.
    """
    arrays, reason, _ = _try_tfds(data_dir, download, network_timeout)
    if arrays is None:
        logger.info("tfds MNIST unavailable: %s", reason)
    return arrays


# --------------------------------------------------------------------------- #
# Bundled test set and the mnist-10k protocol
# --------------------------------------------------------------------------- #


def load_mnist_bundled() -> tuple[np.ndarray, np.ndarray]:
    """The real MNIST test set shipped with the package, checksum-verified.

    Returns:
        ``(images, labels)``: uint8 ``(10000, 28, 28)`` and uint8 ``(10000,)``.

    Raises:
        DataError: If a bundled file is missing or its MD5 does not match.
    """
    arrays = []
    for name, expected in BUNDLED_MD5.items():
        path = BUNDLED_DIR / name
        if not path.is_file():
            raise DataError(f"bundled MNIST file missing: {path} (reinstall kerasrnn)")
        actual = file_md5(path)
        if actual != expected:
            raise DataError(
                f"bundled MNIST file {path} is damaged: expected md5 {expected}, found {actual}"
            )
        arrays.append(read_idx(path))
    images, labels = arrays
    _check_images_labels(images, labels, "bundled MNIST")
    return images, labels


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


# --------------------------------------------------------------------------- #
# The loader
# --------------------------------------------------------------------------- #


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
        seed: Seed of the validation split and of the mnist-10k split.
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
            description = (
                f"tensorflow-datasets mnist {facts['tfds_dataset_version']} "
                f"({facts['tfds_dataset_dir']})"
            )
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
        train_idx, test_idx = mnist_10k_indices(arrays.y_test, seed)
        x_train, y_train = arrays.x_test[train_idx], arrays.y_test[train_idx]
        x_test, y_test = arrays.x_test[test_idx], arrays.y_test[test_idx]
        protocol = "mnist-10k"
        source_line = (
            f"{description} (mnist-10k protocol: {len(x_train)} train / {len(x_test)} test, "
            f"seed {seed})"
        )
        info["mnist_10k"] = {
            "seed": seed,
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
