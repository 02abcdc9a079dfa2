"""Where the digits come from: one function, :func:`load_dataset`, for every source.

Sources, chosen by the ``--data`` value every data-reading command accepts:

* nothing (the default): the canonical MNIST IDX files vendored inside this package, verified
  against their SHA-256 on load, so a fresh offline install works;
* a folder of IDX files (``train-images-idx3-ubyte[.gz]`` and friends), e.g. Fashion-MNIST; if the
  folder has a ``SHA256SUMS`` file (``sha256sum`` format, hashes of the decompressed files), it is
  verified too;
* a folder of the user's own pictures, one subfolder per label (``0/`` to ``9/``, PNG or JPEG
  files, any size and polarity), each prepared by the preprocessing contract
  (``picture_folders.py``);
* a Keras-style ``.npz`` with ``x_train``, ``y_train``, ``x_test``, ``y_test`` (read with
  ``allow_pickle=False``: we never unpickle a user's file);
* ``keras`` / ``keras:mnist`` / ``keras:fashion_mnist``: Keras' downloader, for users with a
network.

Every source returns the same thing: uint8 images ``(N, 28, 28)`` and uint8 labels ``(N,)``.
Scaling and layout are the model's business (see ``ModelSpec.preprocess``).
"""

from __future__ import annotations

import functools
import math
import os
import tokenize
import zipfile
import zlib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from edgedigits.data.idx import (
    DEFLATE_MAX_RATIO,
    MAX_DATA_BYTES,
    parse_idx,
    read_idx_bytes,
    sha256_hex,
)
from edgedigits.errors import DataError, first_line
from edgedigits.inputs import open_regular

IMAGE_SHAPE = (28, 28)
NUM_CLASSES = 10
CHECKSUM_FILE = "SHA256SUMS"
CHECKSUM_BYTES = 1 << 20  # four lines of ~90 bytes
KERAS_DATASETS = ("mnist", "fashion_mnist")
# What NumPy's .npy header reader raises on a damaged header: it parses the header's dict as
# Python tokens, so a cut string ends in tokenize's error, a stray byte in SyntaxError.
NPY_HEADER_ERRORS = (
    ValueError,
    SyntaxError,
    TypeError,
    tokenize.TokenError,
    OverflowError,
    RecursionError,
    UnicodeDecodeError,
)

# The four IDX files by role, each with the spellings seen in the wild (yann.lecun.com used
# "train-images-idx3-ubyte", some mirrors "train-images.idx3-ubyte").
IDX_FILES = {
    "train_images": ("train-images-idx3-ubyte", "train-images.idx3-ubyte"),
    "train_labels": ("train-labels-idx1-ubyte", "train-labels.idx1-ubyte"),
    "test_images": ("t10k-images-idx3-ubyte", "t10k-images.idx3-ubyte"),
    "test_labels": ("t10k-labels-idx1-ubyte", "t10k-labels.idx1-ubyte"),
}


@dataclass(frozen=True)
class Dataset:
    """Train and test splits as read-only uint8 arrays, plus where they came from."""

    train_images: np.ndarray  # (N, 28, 28) uint8, 0 = background
    train_labels: np.ndarray  # (N,) uint8 in 0..9
    test_images: np.ndarray
    test_labels: np.ndarray
    source: str  # human-readable origin, recorded in metrics and manifests

    @property
    def num_train(self) -> int:
        return int(self.train_images.shape[0])

    @property
    def num_test(self) -> int:
        return int(self.test_images.shape[0])


def embedded_mnist_dir() -> Path:
    """The folder of vendored MNIST IDX files inside the installed package."""
    return Path(str(resources.files("edgedigits.data") / "mnist"))


def load_dataset(data: str | Path | None = None) -> Dataset:
    """Load a dataset from the source named by ``data`` (see the module docstring).

    Results are cached per source for the life of the process; arrays are read-only so one
    caller cannot corrupt another's copy.
    """
    if data is None or str(data) == "":
        return _load_cached("embedded", str(embedded_mnist_dir()))
    text = str(data)
    if text == "keras" or text.startswith("keras:"):
        return _load_cached("keras", text.partition(":")[2] or "mnist")
    path = Path(text).expanduser()
    if path.is_dir():
        from edgedigits.data.picture_folders import is_picture_folder

        kind = "pictures" if is_picture_folder(path) else "idx"
        return _load_cached(kind, str(path.resolve()))
    if path.is_file():
        if path.suffix.lower() == ".npz":
            return _load_cached("npz", str(path.resolve()))
        raise DataError(f"--data {text}: not a folder of IDX files, a .npz file, or 'keras'")
    if path.exists():  # a named pipe or a device: reading it could wait forever
        raise DataError(f"--data {text}: not a regular file or a folder")
    raise DataError(f"--data {text}: no such file or folder")


@functools.lru_cache(maxsize=4)
def _load_cached(kind: str, where: str) -> Dataset:
    if kind == "embedded":
        ds = load_idx_folder(where, require_checksums=True)
        return Dataset(
            ds.train_images,
            ds.train_labels,
            ds.test_images,
            ds.test_labels,
            source="embedded MNIST (SHA-256 verified)",
        )
    if kind == "idx":
        return load_idx_folder(where)
    if kind == "pictures":
        from edgedigits.data.picture_folders import load_picture_folder

        arrays, source = load_picture_folder(where)
        return Dataset(*arrays, source=source)
    if kind == "npz":
        return load_npz(where)
    return load_keras(where)


def _find_idx_file(folder: Path, spellings: tuple[str, ...]) -> Path:
    for name in spellings:
        for candidate in (folder / name, folder / f"{name}.gz"):
            if candidate.exists():  # a pipe or folder by that name is refused when read
                return candidate
    raise DataError(
        f"{folder}: missing {spellings[0]}[.gz] (a folder of IDX files needs "
        "train-images, train-labels, t10k-images and t10k-labels)"
    )


def read_checksums(path: Path) -> dict[str, str]:
    """Parse a ``sha256sum``-style file: ``<hex>  <name>`` per line."""
    sums: dict[str, str] = {}
    try:
        with open_regular(path, lambda why: DataError(f"{path}: {why}"), CHECKSUM_BYTES) as (
            handle,
            _size,
        ):
            text = handle.read().decode("utf-8")
    except UnicodeDecodeError:
        raise DataError(
            f"{path}: not a text checksum file (expected '<sha256>  <file name>' lines)"
        ) from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from None
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) != 2 or len(parts[0]) != 64 or not _is_hex(parts[0]):
            raise DataError(f"{path}:{lineno}: expected '<sha256>  <file name>'")
        sums[parts[1].lstrip("*")] = parts[0].lower()
    return sums


def _is_hex(text: str) -> bool:
    return all(c in "0123456789abcdefABCDEF" for c in text)


def load_idx_folder(folder: str | Path, *, require_checksums: bool = False) -> Dataset:
    """Read the four IDX files in ``folder``, verifying ``SHA256SUMS`` when present."""
    folder = Path(folder)
    sums_path = folder / CHECKSUM_FILE
    if sums_path.is_symlink() and not sums_path.exists():  # never skipped as if absent
        raise DataError(
            f"{sums_path}: a symbolic link to {os.readlink(sums_path)}, which does "
            "not exist; restore it or remove the link"
        )
    if sums_path.exists():
        sums = read_checksums(sums_path)
    elif require_checksums:
        raise DataError(f"{sums_path}: checksum file missing")
    else:
        sums = {}
    arrays = {}
    for role, spellings in IDX_FILES.items():
        path = _find_idx_file(folder, spellings)
        data = read_idx_bytes(path)
        plain_name = path.name.removesuffix(".gz")
        expected = sums.get(plain_name)
        if expected is None and require_checksums:
            raise DataError(f"{sums_path}: no checksum listed for {plain_name}")
        if expected is not None:
            actual = sha256_hex(data)
            if actual != expected:
                raise DataError(
                    f"{path}: checksum mismatch: SHA-256 of the decompressed data is "
                    f"{actual}, {sums_path.name} says {expected}"
                )
        arrays[role] = parse_idx(data, str(path))
    return _validated(arrays, source=f"IDX folder {folder}")


def load_npz(path: str | Path) -> Dataset:
    """Read a Keras-style ``mnist.npz`` without unpickling anything, bounded whatever its zip
    directory or ``.npy`` headers claim (see ``_read_npy``)."""
    path = Path(path)
    fail = lambda why: DataError(f"{path}: {why}")  # noqa: E731
    keys = ("x_train", "y_train", "x_test", "y_test")
    try:
        with open_regular(path, fail, MAX_DATA_BYTES) as (handle, _size):
            if not zipfile.is_zipfile(handle):  # np.load would otherwise try it as a pickle
                raise DataError(f"{path}: not a readable .npz file (not a zip archive)")
            with zipfile.ZipFile(handle) as archive:
                members = {name.removesuffix(".npy"): name for name in archive.namelist()}
                missing = [k for k in keys if k not in members]
                if missing:
                    raise DataError(
                        f"{path}: missing array(s) {', '.join(missing)} "
                        f"(has: {', '.join(members) or 'none'})"
                    )
                infos = [archive.getinfo(members[k]) for k in keys]
                claimed = sum(info.file_size for info in infos)
                if claimed > MAX_DATA_BYTES:
                    raise DataError(
                        f"{path}: its arrays claim {claimed:,} bytes, over the "
                        f"{MAX_DATA_BYTES:,}-byte limit for one data file"
                    )
                arrays = {
                    role: _read_npy(archive, info, path)
                    for role, info in zip(
                        ("train_images", "train_labels", "test_images", "test_labels"), infos
                    )
                }
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except DataError:
        raise
    except (
        OSError,
        zipfile.BadZipFile,
        EOFError,
        NotImplementedError,
        RuntimeError,
        ValueError,
        zlib.error,
    ) as exc:
        raise DataError(f"{path}: not a readable .npz file ({first_line(exc, 160)})") from None
    return _validated(arrays, source=f"npz {path}")


def _read_npy(archive: zipfile.ZipFile, info: zipfile.ZipInfo, path: Path) -> np.ndarray:
    """One member, read as NumPy's ``.npy`` format describes (never its pickle branch): the
    header's shape and dtype are checked against the member's size, and that size against what
    its compressed bytes can inflate to, before the array is allocated."""
    key = info.filename.removesuffix(".npy")
    if (
        info.compress_type != zipfile.ZIP_STORED
        and info.file_size > info.compress_size * DEFLATE_MAX_RATIO + 1024
    ):
        raise DataError(
            f"{path}: {key} claims {info.file_size:,} bytes, more than its "
            f"{info.compress_size:,} compressed bytes can hold"
        )
    with archive.open(info) as member:
        try:
            version = np.lib.format.read_magic(member)
            read_header = (
                np.lib.format.read_array_header_1_0
                if version == (1, 0)
                else np.lib.format.read_array_header_2_0
            )
            shape, fortran, dtype = read_header(member)
        except NPY_HEADER_ERRORS as exc:
            raise DataError(
                f"{path}: a member is not a plain .npy array ({key}: {first_line(exc, 120)})"
            ) from None
        if dtype.hasobject:
            raise DataError(f"{path}: cannot read without unpickling ({key} holds Python objects)")
        nbytes = math.prod(shape) * dtype.itemsize
        if nbytes > info.file_size:
            raise DataError(
                f"{path}: {key}'s header claims shape {shape} ({nbytes:,} bytes), "
                f"the member holds {info.file_size:,}"
            )
        data = member.read(nbytes)
    if len(data) != nbytes:
        raise DataError(f"{path}: {key} is truncated ({len(data):,} of {nbytes:,} bytes)")
    return np.frombuffer(data, dtype=dtype).reshape(shape, order="F" if fortran else "C")


def load_keras(name: str) -> Dataset:
    """Download through Keras (needs a network); a clear error when there is none."""
    if name not in KERAS_DATASETS:
        raise DataError(
            f"--data keras:{name}: unknown Keras dataset (choose from {', '.join(KERAS_DATASETS)})"
        )
    from edgedigits._tf import tf_keras

    module = getattr(tf_keras().datasets, name)
    try:
        (x_train, y_train), (x_test, y_test) = module.load_data()
    except Exception as exc:  # noqa: BLE001 - any download failure is the same user problem
        first = first_line(exc)
        raise DataError(
            f"--data keras:{name}: download failed ({first}); omit --data to use "
            "the embedded MNIST, or pass a local IDX folder or .npz"
        ) from None
    return _validated(
        {
            "train_images": x_train,
            "train_labels": y_train,
            "test_images": x_test,
            "test_labels": y_test,
        },
        source=f"keras:{name}",
    )


def _validated(arrays: dict[str, np.ndarray], source: str) -> Dataset:
    """Check shapes, counts, dtypes and label range; return read-only uint8 arrays."""
    out = {}
    for split in ("train", "test"):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if images.ndim != 3 or tuple(images.shape[1:]) != IMAGE_SHAPE:
            raise DataError(
                f"{source}: {split} images have shape {tuple(images.shape)}; the zoo's "
                f"models take (N, {IMAGE_SHAPE[0]}, {IMAGE_SHAPE[1]})"
            )
        if labels.ndim != 1:
            raise DataError(
                f"{source}: {split} labels have shape {tuple(labels.shape)}, "
                "expected one label per image"
            )
        if images.shape[0] != labels.shape[0]:
            raise DataError(
                f"{source}: image/label count mismatch in {split} split: "
                f"{images.shape[0]} images, {labels.shape[0]} labels"
            )
        if images.shape[0] == 0:
            raise DataError(f"{source}: {split} split is empty")
        for what, arr in (("images", images), ("labels", labels)):
            if arr.dtype != np.uint8:
                if not np.issubdtype(arr.dtype, np.integer) or arr.min() < 0 or arr.max() > 255:
                    raise DataError(
                        f"{source}: {split} {what} are {arr.dtype}; expected uint8 values 0-255"
                    )
        if int(labels.max()) >= NUM_CLASSES:
            raise DataError(
                f"{source}: {split} labels go up to {int(labels.max())}; the zoo "
                f"classifies {NUM_CLASSES} classes (0-{NUM_CLASSES - 1})"
            )
        for role, arr in ((f"{split}_images", images), (f"{split}_labels", labels)):
            arr = np.array(arr, dtype=np.uint8, copy=True)
            arr.setflags(write=False)
            out[role] = arr
    return Dataset(**out, source=source)
