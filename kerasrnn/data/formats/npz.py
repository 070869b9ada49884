""".npz archives (NumPy): the arrays of training files and of new inputs.

``allow_pickle=False`` always: an archive holding object arrays is refused,
never unpickled.  Time steps whose features are all NaN at the *end* of a
sequence mark a shorter sequence.
"""

from __future__ import annotations

import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np

from kerasrnn.errors import DataError


def npz_sequences(x: np.ndarray, name: str, path: Path) -> tuple[list | np.ndarray, bool]:
    """Split NaN-padded ``x`` into per-sample sequences; (sequences, variable)."""
    if x.dtype.kind not in "iuf":
        raise DataError(f"{path}: array {name!r} must be numeric; found dtype {x.dtype}")
    if x.ndim < 2:
        raise DataError(f"{path}: array {name!r} must have shape (N, T) or (N, T, F); found {x.shape}")
    x = x.astype(np.float64)
    if x.ndim == 2:
        x = x[..., np.newaxis]
    missing_step = np.isnan(x).reshape(x.shape[0], x.shape[1], -1).all(axis=2)
    any_missing = np.isnan(x).reshape(x.shape[0], x.shape[1], -1).any(axis=2)
    sequences = []
    variable = False
    for index in range(len(x)):
        present = np.flatnonzero(~missing_step[index])
        if present.size == 0:
            raise DataError(f"{path}: {name}[{index}] has no values (all NaN)")
        length = int(present[-1]) + 1
        variable |= length != x.shape[1]
        inner = np.flatnonzero(any_missing[index, :length])
        if inner.size:
            raise DataError(
                f"{path}: {name}[{index}] has a NaN at step {int(inner[0])} inside the sequence; "
                f"only trailing all-NaN steps may shorten a sequence"
            )
        if np.isinf(x[index, :length]).any():
            raise DataError(f"{path}: {name}[{index}] holds an infinite value")
        sequences.append(x[index, :length])
    return sequences, variable


#: What NumPy and zipfile raise for a damaged archive.
DAMAGED = (OSError, EOFError, zipfile.BadZipFile, zlib.error, struct.error, KeyError, NotImplementedError)


def read_arrays(path: Path) -> dict[str, np.ndarray]:
    """Every array of an archive, by name (object arrays refused, never unpickled)."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            if not hasattr(archive, "files"):  # a bare .npy file
                raise DataError(f"{path}: a single .npy array, not an .npz archive (np.savez writes one)")
            arrays = {key: archive[key] for key in archive.files}
    except ValueError as error:
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise DataError(f"{path}: cannot read the .npz archive ({first}); object arrays are not supported") from None
    except DAMAGED as error:
        raise DataError(f"{path}: not a valid .npz archive ({type(error).__name__}: {error})") from None
    for key, value in arrays.items():
        if not isinstance(value, np.ndarray):  # NpzFile hands back the raw bytes of a member that is no .npy
            raise DataError(f"{path}: member {key!r} is not a NumPy array (.npy); write the archive with np.savez")
    return arrays


def read_input_array(path: Path) -> np.ndarray:
    """The inputs of an archive of new samples: the array ``x``, or its only array."""
    arrays = read_arrays(path)
    if "x" in arrays:
        return arrays["x"]
    if len(arrays) == 1:
        return next(iter(arrays.values()))
    raise DataError(f"{path}: expected an array named 'x' (or a single array); found {sorted(arrays) or 'none'}")


def read_training_arrays(path: Path) -> dict[str, np.ndarray]:
    """``x`` and ``y`` (and optionally ``x_val``/``y_val``, ``x_test``/``y_test``), checked for consistency."""
    arrays = read_arrays(path)
    for required in ("x", "y"):
        if required not in arrays:
            raise DataError(
                f"{path}: expected arrays 'x' and 'y' (optionally 'x_test', 'y_test', 'x_val', "
                f"'y_val'); found {sorted(arrays) or 'none'}"
            )
    for split in ("test", "val"):
        if (f"x_{split}" in arrays) != (f"y_{split}" in arrays):
            raise DataError(f"{path}: 'x_{split}' and 'y_{split}' must be given together; found only one")
    for prefix in ("", "_test", "_val"):
        if f"x{prefix}" in arrays and len(arrays[f"x{prefix}"]) != len(arrays[f"y{prefix}"]):
            raise DataError(
                f"{path}: 'x{prefix}' has {len(arrays[f'x{prefix}'])} samples but "
                f"'y{prefix}' has {len(arrays[f'y{prefix}'])}"
            )
    return arrays
