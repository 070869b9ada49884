"""The IDX file format (MNIST's): a typed header, then big-endian array data."""

from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path

import numpy as np

from kerasrnn.errors import DataError

_IDX_DTYPES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"


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
            f"{path}: truncated header (expected {header_size} bytes for {ndim} dimension(s), found {len(raw)})"
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
