"""A model file's container and weight arrays, read as data: a ``.keras`` zip or a legacy ``.h5``.

What is read, and how it is bounded:

* ``.keras`` (Keras 3 and tf_keras): a zip of ``config.json``, ``metadata.json`` and
  ``model.weights.h5``. Each member is inflated through a byte cap (a zip bomb stops at the cap,
  whatever its header claims), the weights into a private temporary file.
* ``.h5`` (Keras 2 and Keras 3's legacy format): the ``model_config`` attribute and the
  ``model_weights`` group.
* Every array is checked against the shape the architecture implies and must be float32 before
  it is read (so a header claiming a billion elements allocates nothing); external links,
  external storage and virtual datasets, which would make HDF5 read other files, are refused.

Where each layer's arrays are: ``.keras`` files key layers by Keras' snake-cased class name with
a counter in layer order (``layers/conv2d_1/vars/0``), the same in both Keras versions;
``.h5`` files key them by layer name and list them in the ``weight_names`` attribute.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgedigits.errors import ModelFileError, first_line
from edgedigits.inputs import open_regular
from edgedigits.model_files.keras_json import snake_case

MAX_FILE_BYTES = 512 << 20  # a model file we copy and parse at all
MAX_WEIGHTS_BYTES = 256 << 20  # model.weights.h5 inflated (keras_json.MAX_PARAMS x 4 + slack)
MAX_SMALL_MEMBER = 4 << 20  # config.json, metadata.json
MAX_ZIP_MEMBERS = 64  # Keras writes three (plus assets/ for a few layers we do not accept)
KERAS_SUFFIXES = (".keras", ".h5", ".hdf5")


@dataclass(frozen=True)
class ModelFile:
    """What a model file holds, before anything is built from it."""

    path: Path  # our private copy's path while the ``open_model_file`` block runs
    format: str  # "keras" (zip) or "h5"
    config_text: str  # the architecture JSON (still unchecked)
    keras_version: str | None  # as the file says ("3.15.1", "2.21.0"), None if it does not
    weights_path: Path  # an HDF5 file: model.weights.h5 (inflated) or the .h5 itself

    @property
    def writer(self) -> str:
        """``keras`` (Keras 3) or ``tf_keras`` (Keras 2), from the version the file records."""
        major = (self.keras_version or "").split(".")[0]
        if major == "3":
            return "keras"
        if major == "2":
            return "tf_keras"
        return "keras" if '"DTypePolicy"' in self.config_text else "tf_keras"


def file_kind(path: Path, source: Path | None = None) -> str:
    """``keras`` or ``h5`` from the first bytes (a zip, an HDF5 file), whatever the suffix says."""
    with open(path, "rb") as fh:
        head = fh.read(8)
    if head.startswith(b"PK"):
        return "keras"
    if head == b"\x89HDF\r\n\x1a\n":
        return "h5"
    raise ModelFileError(
        f"{source or path}: not a loadable model file (neither a .keras zip nor an .h5 HDF5 file)"
    )


def checked_regular_file(path: str | os.PathLike[str], what: str = "model file") -> Path:
    """A regular file of bounded size (a FIFO would hang a read; a device never ends)."""
    path = Path(path)
    try:
        st = path.stat()
    except OSError as exc:
        raise ModelFileError(f"{path}: {what} not found ({exc.strerror})") from None
    import stat

    if not stat.S_ISREG(st.st_mode):
        raise ModelFileError(f"{path}: not a regular file")
    if st.st_size > MAX_FILE_BYTES:
        raise ModelFileError(
            f"{path}: {st.st_size:,} bytes, over the {MAX_FILE_BYTES:,}-byte limit for a {what}"
        )
    return path


@contextlib.contextmanager
def open_model_file(path: str | os.PathLike[str]) -> Iterator[ModelFile]:
    """Copy ``path`` privately (the user's file may change while we work; we read one version),
    then yield what it holds. The copy and any inflated member are removed afterwards."""
    source = checked_regular_file(path)
    with tempfile.TemporaryDirectory(prefix="edgedigits-model-") as tmp:
        copy = Path(tmp) / ("model.keras" if source.suffix.lower() == ".keras" else "model.h5")
        try:  # copied from the descriptor checked as a regular file: a file swapped for a
            # pipe after the check above cannot block the copy
            with (
                open_regular(
                    source, lambda why: ModelFileError(f"{source}: {why}"), MAX_FILE_BYTES
                ) as (handle, _size),
                open(copy, "wb") as sink,
            ):
                shutil.copyfileobj(handle, sink)
        except OSError as exc:
            raise ModelFileError(f"{source}: cannot read ({exc.strerror})") from None
        kind = file_kind(copy, source)
        if kind == "keras":
            yield _open_keras_zip(source, copy, Path(tmp))
        else:
            yield _open_h5(source, copy)


def _inflate(zf: zipfile.ZipFile, name: str, limit: int, source: Path, sink: Any) -> int:
    """Copy one member into ``sink`` through a byte cap; returns the bytes written."""
    written = 0
    with zf.open(name) as member:
        while chunk := member.read(1 << 20):
            written += len(chunk)
            if written > limit:
                raise ModelFileError(
                    f"{source}: {name} inflates past {limit:,} bytes (a zip "
                    "bomb, or far too large a model)"
                )
            sink.write(chunk)
    return written


def _open_keras_zip(source: Path, copy: Path, tmp: Path) -> ModelFile:
    import io
    import json

    try:
        with zipfile.ZipFile(copy) as zf:
            names = zf.namelist()
            if len(names) > MAX_ZIP_MEMBERS:
                raise ModelFileError(f"{source}: {len(names)} members; a .keras file has three")
            for needed in ("config.json", "model.weights.h5"):
                if needed not in names:
                    raise ModelFileError(f"{source}: no {needed} inside; not a .keras model file")
            texts = {}
            for name in ("config.json", "metadata.json"):
                if name in names:
                    buffer = io.BytesIO()
                    _inflate(zf, name, MAX_SMALL_MEMBER, source, buffer)
                    texts[name] = buffer.getvalue().decode("utf-8", "replace")
            weights = tmp / "model.weights.h5"
            with open(weights, "wb") as sink:
                _inflate(zf, "model.weights.h5", MAX_WEIGHTS_BYTES, source, sink)
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        EOFError,
        NotImplementedError,
        ValueError,
        RuntimeError,
    ) as exc:  # truncated, corrupt, encrypted, odd compression
        raise ModelFileError(
            f"{source}: not a readable .keras zip ({first_line(exc, 120)})"
        ) from None
    except OSError as exc:
        raise ModelFileError(f"{source}: cannot inflate ({exc.strerror or exc})") from None
    version = None
    if "metadata.json" in texts:
        try:
            meta = json.loads(texts["metadata.json"])
            version = meta.get("keras_version") if isinstance(meta, dict) else None
        except (ValueError, RecursionError):
            raise ModelFileError(f"{source}: metadata.json is not valid JSON") from None
    return ModelFile(
        copy, "keras", texts["config.json"], version if isinstance(version, str) else None, weights
    )


def _h5py() -> Any:
    import h5py

    return h5py


def _open_h5(source: Path, copy: Path) -> ModelFile:
    h5py = _h5py()
    try:
        with h5py.File(copy, "r") as fh:
            config = fh.attrs.get("model_config")
            version = fh.attrs.get("keras_version")
            if config is None:
                raise ModelFileError(
                    f"{source}: an HDF5 file without a model_config; a weights-"
                    "only file has no architecture: save the whole model "
                    "(model.save), not model.save_weights"
                )
    except OSError as exc:
        raise ModelFileError(
            f"{source}: not a readable HDF5 file ({first_line(exc, 120)})"
        ) from None
    if isinstance(config, bytes):
        config = config.decode("utf-8", "replace")
    if isinstance(version, bytes):
        version = version.decode("utf-8", "replace")
    if not isinstance(config, str):
        raise ModelFileError(f"{source}: model_config is not JSON text")
    return ModelFile(copy, "h5", config, version if isinstance(version, str) else None, copy)


# -- reading the arrays --------------------------------------------------------------------------


def _hard_child(group: Any, key: str, where: str) -> Any:
    """``group[key]`` only through a hard link inside this file (no external or soft link)."""
    h5py = _h5py()
    link = group.get(key, getlink=True)
    if link is None:
        return None
    if not isinstance(link, h5py.HardLink):
        raise ModelFileError(f"{where}: {key!r} is a link to elsewhere; refused")
    return group[key]


def _read_array(dataset: Any, expected: tuple[int, ...], where: str) -> np.ndarray:
    h5py = _h5py()
    if not isinstance(dataset, h5py.Dataset):
        raise ModelFileError(f"{where}: not an array")
    if dataset.is_virtual or dataset.external:
        raise ModelFileError(f"{where}: stored outside the file; refused")
    if tuple(dataset.shape) != tuple(expected):
        raise ModelFileError(
            f"{where}: shape {tuple(dataset.shape)}, the architecture needs {tuple(expected)}"
        )
    if dataset.dtype != np.float32:
        raise ModelFileError(f"{where}: dtype {dataset.dtype}, expected float32")
    try:
        return np.asarray(dataset[()], dtype=np.float32)
    except OSError as exc:
        raise ModelFileError(f"{where}: unreadable ({first_line(exc, 100)})") from None


def keras_zip_keys(class_names: Sequence[str]) -> list[str]:
    """Each layer's key in a ``.keras`` weights file: snake-cased class name, then ``_1``,
    ``_2`` for later layers of the same class (Keras' saving_lib, both versions)."""
    used: dict[str, int] = {}
    keys = []
    for class_name in class_names:
        base = snake_case(class_name)
        count = used.get(base, 0)
        keys.append(base if count == 0 else f"{base}_{count}")
        used[base] = count + 1
    return keys


def read_weights(
    model_file: ModelFile | Path,
    layers: Sequence[tuple[str, str]],
    shapes: dict[str, list[tuple[int, ...]]],
    where: str | Path,
    file_format: str | None = None,
) -> dict[str, list[np.ndarray]]:
    """Every layer's arrays, checked against ``shapes`` (layer name -> weight shapes in Keras'
    order). ``layers``: (class name, layer name) for every layer in the file's layer order,
    InputLayer included where the file lists it. Missing or extra arrays are refused."""
    h5py = _h5py()
    path = model_file.weights_path if isinstance(model_file, ModelFile) else Path(model_file)
    kind = model_file.format if isinstance(model_file, ModelFile) else (file_format or "keras")
    try:
        with h5py.File(path, "r") as fh:
            if kind == "keras":
                return _read_keras_weights(fh, layers, shapes, where)
            return _read_h5_weights(fh, layers, shapes, where)
    except OSError as exc:
        raise ModelFileError(
            f"{where}: weights not readable as HDF5 ({first_line(exc, 120)})"
        ) from None


def _read_keras_weights(
    fh: Any,
    layers: Sequence[tuple[str, str]],
    shapes: dict[str, list[tuple[int, ...]]],
    where: str | Path,
) -> dict[str, list[np.ndarray]]:
    group = _hard_child(fh, "layers", str(where))
    keys = keras_zip_keys([c for c, _ in layers])
    found: dict[str, list[np.ndarray]] = {}
    expected_keys = set()
    for key, (_, name) in zip(keys, layers):
        expected = shapes.get(name, [])
        expected_keys.add(key)
        layer = _hard_child(group, key, str(where)) if group is not None else None
        vars_group = _hard_child(layer, "vars", str(where)) if layer is not None else None
        stored = sorted(vars_group.keys(), key=_as_int) if vars_group is not None else []
        if [str(k) for k in range(len(expected))] != stored:
            raise ModelFileError(
                f"{where}: layer {name!r} has {len(stored)} weight arrays in "
                f"the file, the architecture needs {len(expected)}"
            )
        found[name] = [
            _read_array(
                _hard_child(vars_group, str(k), str(where)),
                shape,
                f"{where}: layer {name!r} weight {k}",
            )
            for k, shape in enumerate(expected)
        ]
    if group is not None:
        extra = [k for k in group.keys() if k not in expected_keys and _has_arrays(group[k])]
        if extra:
            raise ModelFileError(
                f"{where}: weights for layers the architecture does not have "
                f"({', '.join(sorted(extra)[:5])})"
            )
    return found


def _as_int(text: str) -> int:
    return int(text) if text.isdigit() else 1 << 30


def _has_arrays(group: Any) -> bool:
    h5py = _h5py()
    found = []
    group.visit(
        lambda name: (
            found.append(name)
            if isinstance(group.get(name, getlink=True), h5py.HardLink)
            and isinstance(group[name], h5py.Dataset)
            else None
        )
    )
    return bool(found)


def _read_h5_weights(
    fh: Any,
    layers: Sequence[tuple[str, str]],
    shapes: dict[str, list[tuple[int, ...]]],
    where: str | Path,
) -> dict[str, list[np.ndarray]]:
    group = _hard_child(fh, "model_weights", str(where)) or fh
    found: dict[str, list[np.ndarray]] = {}
    for _, name in layers:
        expected = shapes.get(name, [])
        layer = _hard_child(group, name, str(where))
        names = (
            []
            if layer is None
            else [
                n.decode() if isinstance(n, bytes) else str(n)
                for n in layer.attrs.get("weight_names", [])
            ]
        )
        if len(names) != len(expected):
            raise ModelFileError(
                f"{where}: layer {name!r} has {len(names)} weight arrays in "
                f"the file, the architecture needs {len(expected)}"
            )
        arrays = []
        for k, (weight_name, shape) in enumerate(zip(names, expected)):
            node = layer
            for part in weight_name.split("/"):
                node = _hard_child(node, part, str(where)) if node is not None else None
            if node is None:
                raise ModelFileError(f"{where}: layer {name!r} weight {weight_name!r} is missing")
            arrays.append(_read_array(node, shape, f"{where}: layer {name!r} weight {k}"))
        found[name] = arrays
    known = {name for _, name in layers} | {"top_level_model_weights"}
    extra = [k for k in group.keys() if k not in known and _has_arrays(group[k])]
    if extra:
        raise ModelFileError(
            f"{where}: weights for layers the architecture does not have "
            f"({', '.join(sorted(extra)[:5])})"
        )
    return found
