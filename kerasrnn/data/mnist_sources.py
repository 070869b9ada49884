"""Where MNIST comes from: IDX files, tensorflow-datasets, or the bundled test set.

Each source returns :class:`MnistArrays` (uint8 images and labels) or says
why it cannot; :mod:`kerasrnn.data.mnist` tries them in order and turns the
arrays into sequences.  tensorflow-datasets (and so TensorFlow) is imported
only when a prepared tfds cache exists or a download was asked for.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from pathlib import Path
from typing import NamedTuple

import numpy as np

from kerasrnn.data.formats.idx import read_idx
from kerasrnn.data.splits import file_md5
from kerasrnn.errors import DataError

logger = logging.getLogger(__name__)

BUNDLED_DIR = Path(__file__).resolve().parent / "bundled" / "mnist"
BUNDLED_MD5 = {
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
#: Host the tfds MNIST builder downloads from (probed before downloading).
TFDS_DOWNLOAD_HOST = "storage.googleapis.com"
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
            f"{what}: expected as many labels as images, found {len(labels)} labels for {len(images)} images"
        )
    if len(labels) and (labels.min() < 0 or labels.max() > 9):
        raise DataError(f"{what} labels: expected digits 0-9, found values from {labels.min()} to {labels.max()}")


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
            missing = _IDX_BASENAMES[f"{prefix}_labels" if have[0].endswith("images") else f"{prefix}_images"]
            raise DataError(f"{directory}: found {files[have[0]].name} but not its companion {missing}[.gz]")
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
                f"no prepared tfds mnist in {builder.data_dir} and {TFDS_DOWNLOAD_HOST} is unreachable (offline?)",
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
            raise DataError(f"bundled MNIST file {path} is damaged: expected md5 {expected}, found {actual}")
        arrays.append(read_idx(path))
    images, labels = arrays
    _check_images_labels(images, labels, "bundled MNIST")
    return images, labels
