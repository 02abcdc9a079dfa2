"""Mutations: bytes as a fuzzer changes them, and the structures our files are made of.

Random bytes mostly die at the first checksum or magic number, so each family mixes two kinds:

* **byte mutations** (AFL's classic set): flip a bit, set a byte or a 32-bit word to a value
  that breaks size arithmetic (0, 0xFF..., 0x7FFFFFFF, 0x80000000), insert, delete, duplicate
  or overwrite a run, truncate; optionally aimed at given byte ranges (an HDF5 file's metadata,
  not its weight data);
* **structure-aware mutations**: a JSON document (a Keras config, ``golden.json``, a manifest)
  parsed, one value replaced by a hostile one (NaN, infinity, 10**30, a string, a list, nesting
  200 deep, a key dropped), and serialized again; a zip (``.keras``, ``.npz``) opened, one member
  mutated, and zipped again with valid CRCs, so the mutation reaches the parser behind the zip.

Every mutation takes a NumPy ``Generator``: a case is its family, seed file and case number,
replayed exactly from them.
"""

from __future__ import annotations

import io
import json
import math
import zipfile
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

Region = tuple[int, int]  # [start, end) byte offsets

INTERESTING_8 = (0x00, 0x01, 0x7F, 0x80, 0xFF)
INTERESTING_32 = (0, 1, 0xFFFF, 0x10000, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0x40000000)


def _position(rng: np.random.Generator, size: int, regions: Sequence[Region] | None) -> int:
    """A byte offset, inside one of ``regions`` four times in five when they are given."""
    if regions and rng.random() < 0.8:
        start, end = regions[int(rng.integers(len(regions)))]
        end = min(end, size)
        if end > start:
            return int(rng.integers(start, end))
    return int(rng.integers(max(size, 1)))


def _flip_bit(rng, buf, at):
    buf[at] ^= 1 << int(rng.integers(8))


def _set_byte(rng, buf, at):
    buf[at] = INTERESTING_8[int(rng.integers(len(INTERESTING_8)))]


def _set_word(rng, buf, at):
    value = INTERESTING_32[int(rng.integers(len(INTERESTING_32)))]
    order = "little" if rng.random() < 0.7 else "big"
    word = value.to_bytes(4, order)
    buf[at : at + 4] = word[: max(0, min(4, len(buf) - at))]


def _random_bytes(rng, buf, at):
    n = int(rng.integers(1, 17))
    buf[at : at + n] = rng.integers(0, 256, n, dtype=np.uint8).tobytes()[: len(buf) - at]


def _insert(rng, buf, at):
    n = int(rng.choice([1, 1, 1, 4, 16]))
    buf[at:at] = rng.integers(0, 256, n, dtype=np.uint8).tobytes()


def _delete(rng, buf, at):
    del buf[at : at + int(rng.integers(1, 65))]


def _duplicate(rng, buf, at):
    n = int(rng.integers(1, 65))
    buf[at:at] = buf[at : at + n]


def _splice(rng, buf, at):
    """Copy a run from elsewhere in the file over ``at`` (a header repeated, a pointer moved)."""
    n = int(rng.integers(2, 33))
    src = int(rng.integers(max(len(buf) - n, 1)))
    buf[at : at + n] = buf[src : src + n]


BYTE_OPS: tuple[Callable[[Any, bytearray, int], None], ...] = (
    _flip_bit,
    _flip_bit,
    _set_byte,
    _set_word,
    _set_word,
    _random_bytes,
    _insert,
    _delete,
    _duplicate,
    _splice,
)


def mutate_bytes(
    rng: np.random.Generator, data: bytes, regions: Sequence[Region] | None = None
) -> bytes:
    """One to four byte mutations stacked; one case in twenty is truncated instead."""
    buf = bytearray(data)
    if buf and rng.random() < 0.05:
        return bytes(buf[: int(rng.integers(len(buf)))])
    for _ in range(int(rng.integers(1, 5))):
        if not buf:
            break
        op = BYTE_OPS[int(rng.integers(len(BYTE_OPS)))]
        op(rng, buf, _position(rng, len(buf), regions))
    return bytes(buf)


# -- JSON ----------------------------------------------------------------------------------------


def _hostile_values(rng: np.random.Generator, old: Any) -> list[Any]:
    deep: Any = 0
    for _ in range(200):
        deep = [deep]
    values = [
        math.nan,
        math.inf,
        -math.inf,
        10**30,
        -1,
        0,
        1e-45,
        "",
        "x" * 1000,
        [],
        {},
        None,
        True,
        deep,
        [old, old],
        {"class_name": "Lambda", "config": {"function": "print"}},
        "../../../etc/passwd",
    ]
    if isinstance(old, (int, float)) and not isinstance(old, bool):
        values += [old * 1000, -old, str(old), old + 1]
    if isinstance(old, str):
        values += [old + "x", old.upper(), old[: len(old) // 2], 12345]
    if isinstance(old, list) and old:
        values += [old[:-1], old + old[-1:], list(reversed(old)), old[0]]
    return values


def _slots(doc: Any, limit: int = 20000) -> list[tuple[Any, Any]]:
    """(container, key) of every value in ``doc``, breadth first, at most ``limit``."""
    out, queue = [], [doc]
    while queue and len(out) < limit:
        node = queue.pop(0)
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, value in items:
            out.append((node, key))
            if isinstance(value, (dict, list)):
                queue.append(value)
    return out


def mutate_json_doc(rng: np.random.Generator, doc: Any) -> Any:
    """One to three values of ``doc`` (mutated in place and returned) made hostile, or dropped."""
    for _ in range(int(rng.integers(1, 4))):
        slots = _slots(doc)
        if not slots:
            return doc
        node, key = slots[int(rng.integers(len(slots)))]
        if isinstance(node, dict) and rng.random() < 0.15:
            del node[key]
            continue
        choices = _hostile_values(rng, node[key])
        node[key] = choices[int(rng.integers(len(choices)))]
    return doc


def mutate_json_text(rng: np.random.Generator, text: bytes) -> bytes:
    """Parse, mutate structurally and serialize (NaN and Infinity written as Python's json
    does); one case in five mutates the serialized bytes as well, or instead when unparsable."""
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError):
        return mutate_bytes(rng, text)
    out = json.dumps(mutate_json_doc(rng, doc)).encode()
    return mutate_bytes(rng, out) if rng.random() < 0.2 else out


# -- zips ----------------------------------------------------------------------------------------


def read_zip(data: bytes) -> list[tuple[zipfile.ZipInfo, bytes]]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return [(info, zf.read(info)) for info in zf.infolist()]


def write_zip(members: list[tuple[zipfile.ZipInfo, bytes]]) -> bytes:
    """The members zipped again (valid CRCs and sizes), each with its original compression."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for info, body in members:
            zf.writestr(info, body, compress_type=info.compress_type)
    return out.getvalue()


def mutate_zip_member(
    rng: np.random.Generator,
    data: bytes,
    weights: dict[str, float],
    mutators: dict[str, Callable[[np.random.Generator, bytes], bytes]],
) -> bytes:
    """Mutate one member chosen by ``weights`` (name -> share) with its mutator (bytes by
    default), and zip again. A member name absent from the zip is skipped."""
    members = read_zip(data)
    names = [info.filename for info, _ in members]
    choices = [n for n in weights if n in names] or names
    shares = np.array([weights.get(n, 1.0) for n in choices], dtype=np.float64)
    name = choices[int(rng.choice(len(choices), p=shares / shares.sum()))]
    mutate = mutators.get(name, mutate_bytes)
    return write_zip(
        [(info, mutate(rng, body) if info.filename == name else body) for info, body in members]
    )
