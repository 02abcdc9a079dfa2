"""Reader for the IDX format that MNIST (and Fashion-MNIST, KMNIST, EMNIST...) ships in.

Layout: two zero bytes, a type code (0x08 = unsigned byte), the number of dimensions, then one
big-endian uint32 per dimension, then the values in row-major order. Files may be gzip-compressed;
we detect that from the gzip magic bytes rather than trusting the file name.

Bounded whatever the header claims: the size it promises is checked against ``MAX_DATA_BYTES``
and against what the file on disk can hold (its size, or for gzip what deflate can inflate it
to) before anything is allocated, and a gzip stream is inflated only up to the promised size.
"""

from __future__ import annotations

import gzip
import hashlib
import math
import struct
import zlib
from pathlib import Path

import numpy as np

from edgedigits.errors import DataError
from edgedigits.inputs import open_regular

MAX_DATA_BYTES = 1 << 30  # one IDX file, decompressed: MNIST's largest is 47 MB, EMNIST's 550
DEFLATE_MAX_RATIO = 1032  # the most deflate can inflate one byte to (zlib's technical notes)

GZIP_MAGIC = b"\x1f\x8b"
UBYTE_TYPE_CODE = 0x08
# The only element type MNIST-style data uses; the other IDX types (int16, float32...) are
# rejected with a clear message rather than half-supported.


def read_idx_bytes(path: str | Path) -> bytes:
    """Return the decompressed bytes of an IDX file (gzip or raw), with errors that name the file;
    never more than its header promises (see the module docstring)."""
    path = Path(path)
    fail = lambda why: DataError(f"{path}: {why}")  # noqa: E731
    try:
        with open_regular(path, fail, MAX_DATA_BYTES) as (handle, size):
            if handle.read(2) != GZIP_MAGIC:
                handle.seek(0)
                return _read_promised(handle, str(path), None)
            handle.seek(0)
            with gzip.GzipFile(fileobj=handle) as stream:
                return _read_promised(stream, str(path), size * DEFLATE_MAX_RATIO, "gzip ")
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{path}: unreadable gzip data ({exc})") from None


def _read_promised(stream, source: str, can_hold: int | None, kind: str = "") -> bytes:
    """The header, then exactly the bytes it promises (plus one, to see trailing bytes), after
    checking the promise against the limit and against ``can_hold``."""
    head = stream.read(4)
    ndim = head[3] if len(head) == 4 else 0
    head += stream.read(4 * ndim)
    header_len = 4 + 4 * ndim
    if len(head) < header_len or ndim == 0:
        return head  # parse_idx says what is wrong with it
    promised = header_len + math.prod(struct.unpack(f">{ndim}I", head[4:header_len]))
    if can_hold is None:  # a raw file: reads stop at its real size (already under the limit)
        return head + stream.read(MAX_DATA_BYTES + 1)
    if promised > MAX_DATA_BYTES:
        raise DataError(
            f"{source}: header promises {promised:,} bytes, over the "
            f"{MAX_DATA_BYTES:,}-byte limit for one data file"
        )
    if can_hold is not None and promised > can_hold:
        raise DataError(
            f"{source}: header promises {promised:,} bytes, more than this "
            f"{kind}file can hold ({can_hold:,}): truncated or not an IDX file"
        )
    data = head + stream.read(promised - header_len + 1)
    if len(data) > promised:  # the stream goes on: say so without inflating the rest
        raise DataError(
            f"{source}: data continues past the {promised:,} bytes its header "
            "promises (trailing bytes, or a gzip bomb); not inflated further"
        )
    return data


def parse_idx(data: bytes, source: str) -> np.ndarray:
    """Parse decompressed IDX bytes into a uint8 array; ``source`` names the file in errors."""
    if len(data) < 4:
        raise DataError(f"{source}: too short to be an IDX file ({len(data)} bytes)")
    zero, type_code, ndim = struct.unpack(">HBB", data[:4])
    magic = int.from_bytes(data[:4], "big")
    if zero != 0 or ndim == 0:
        raise DataError(
            f"{source}: bad magic number 0x{magic:08X} (not an IDX file; expected "
            "0x00000803 for images or 0x00000801 for labels)"
        )
    if type_code != UBYTE_TYPE_CODE:
        raise DataError(
            f"{source}: bad magic number 0x{magic:08X}: element type 0x{type_code:02X} "
            "is not unsigned byte (0x08)"
        )
    header_len = 4 + 4 * ndim
    if len(data) < header_len:
        raise DataError(f"{source}: truncated header ({len(data)} bytes, need {header_len})")
    dims = struct.unpack(f">{ndim}I", data[4:header_len])
    expected = math.prod(dims)  # Python ints: a huge header cannot overflow into a small size
    payload = len(data) - header_len
    if payload < expected:
        raise DataError(
            f"{source}: truncated payload: header promises {'x'.join(map(str, dims))} "
            f"= {expected} bytes, file has {payload}"
        )
    if payload > expected:
        raise DataError(
            f"{source}: {payload - expected} unexpected trailing bytes after "
            f"{'x'.join(map(str, dims))} payload"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header_len).reshape(dims)


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (gzip or raw) into a read-only uint8 array."""
    return parse_idx(read_idx_bytes(path), str(path))


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
