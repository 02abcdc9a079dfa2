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
* All HDF5 reading happens in a child process (``hdf5_reader.py``) under a 1 GiB address-space
  limit and a 30 s timeout: the HDF5 library trusts the sizes a damaged file records, so the
  bound has to come from the kernel. Whatever it raises, or however it ends, is one line.

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
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgedigits.errors import ModelFileError, first_line
from edgedigits.inputs import open_regular
from edgedigits.model_files.keras_layers import snake_case

MAX_FILE_BYTES = 512 << 20  # a model file we copy and parse at all
MAX_WEIGHTS_BYTES = 256 << 20  # model.weights.h5 inflated (keras_json.MAX_PARAMS x 4 + slack)
MAX_SMALL_MEMBER = 4 << 20  # config.json, metadata.json
MAX_ZIP_MEMBERS = 64  # Keras writes three (plus assets/ for a few layers we do not accept)
KERAS_SUFFIXES = (".keras", ".h5", ".hdf5")
# The HDF5 reader's budget (``hdf5_reader.py``, a child process): its whole address space, and
# its time. The weights it hands back are at most MAX_WEIGHTS_BYTES; the rest is h5py's own.
HDF5_MAX_BYTES = 1 << 30
HDF5_MAX_SECONDS = 30
HDF5_READER = Path(__file__).with_name("hdf5_reader.py")


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
        zlib.error,
    ) as exc:  # truncated, corrupt, encrypted, odd compression, a damaged deflate stream
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


def _open_h5(source: Path, copy: Path) -> ModelFile:
    attrs = hdf5_child({"op": "attrs", "path": str(copy), "where": str(source)}, source)
    config, version = attrs.get("model_config"), attrs.get("keras_version")
    if config is None and "model_config_type" not in attrs:
        raise ModelFileError(
            f"{source}: an HDF5 file without a model_config; a weights-"
            "only file has no architecture: save the whole model "
            "(model.save), not model.save_weights"
        )
    if not isinstance(config, str):
        raise ModelFileError(f"{source}: model_config is not JSON text")
    return ModelFile(copy, "h5", config, version if isinstance(version, str) else None, copy)


# -- reading the arrays --------------------------------------------------------------------------


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
    InputLayer included where the file lists it. Missing or extra arrays are refused.

    The HDF5 file is read by ``hdf5_reader.py`` in a bounded child process (see there why); it
    checks each array's shape and dtype before reading it and hands back only those arrays."""
    path = model_file.weights_path if isinstance(model_file, ModelFile) else Path(model_file)
    kind = model_file.format if isinstance(model_file, ModelFile) else (file_format or "keras")
    with tempfile.TemporaryDirectory(prefix="edgedigits-weights-") as tmp:
        out = Path(tmp) / "arrays.npz"
        request = {
            "op": "weights",
            "path": str(path),
            "kind": kind,
            "layers": [list(layer) for layer in layers],
            "keys": keras_zip_keys([c for c, _ in layers]),
            "shapes": {name: [list(s) for s in found] for name, found in shapes.items()},
            "where": str(where),
            "out": str(out),
        }
        hdf5_child(request, where)
        with np.load(out, allow_pickle=False) as arrays:  # written by our child, checked again
            found = {}
            for index, (_, name) in enumerate(layers):
                found[name] = []
                for k, shape in enumerate(shapes.get(name, [])):
                    array = arrays[f"{index}/{k}"]
                    if array.dtype != np.float32 or tuple(array.shape) != tuple(shape):
                        raise ModelFileError(f"{where}: layer {name!r} weight {k} misread")
                    found[name].append(array)
    return found


# -- the bounded child ---------------------------------------------------------------------------


def hdf5_child(request: dict[str, Any], where: str | Path) -> dict[str, Any] | int:
    """Run ``hdf5_reader.py`` on ``request`` under ``HDF5_MAX_BYTES`` of address space and
    ``HDF5_MAX_SECONDS``; its answer, or the one-line ``ModelFileError`` it refused with or
    that its end (killed, out of memory, out of time) amounts to."""
    import json
    import signal
    import subprocess
    import sys

    env = {
        "PATH": "/usr/bin:/bin",
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "HDF5_USE_FILE_LOCKING": "FALSE",
        "HDF5_PLUGIN_PATH": "",  # no filter plugin a file names is loaded
    }
    try:
        done = subprocess.run(
            [
                sys.executable,
                "-I",
                str(HDF5_READER),
                str(HDF5_MAX_BYTES),
                str(HDF5_MAX_SECONDS),
                str(MAX_WEIGHTS_BYTES + (16 << 20)),
            ],
            input=json.dumps(request),
            capture_output=True,
            text=True,
            env=env,
            timeout=HDF5_MAX_SECONDS,
        )
    except subprocess.TimeoutExpired:
        raise ModelFileError(
            f"{where}: HDF5 parsing took over {HDF5_MAX_SECONDS} s (a damaged file); refused"
        ) from None
    lines = done.stdout.strip().splitlines()
    if done.returncode == 0 and lines:
        answer = json.loads(lines[-1])
        if "refused" in answer:
            raise ModelFileError(str(answer["refused"]))
        return answer["ok"]
    if done.returncode < 0:
        sig = -done.returncode
        name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else sig
        if sig in (signal.SIGXCPU, signal.SIGKILL):
            raise ModelFileError(
                f"{where}: HDF5 parsing ran out of its {HDF5_MAX_SECONDS} s (a damaged file)"
            )
        raise ModelFileError(f"{where}: HDF5 parsing crashed ({name}); a damaged file")
    said = [line for line in done.stderr.strip().splitlines() if line.strip()]
    if any("MemoryError" in line or "Cannot allocate" in line for line in said):
        raise ModelFileError(
            f"{where}: HDF5 asks for more than {HDF5_MAX_BYTES >> 20} MiB to parse "
            "(a corrupt size field?); refused"
        )
    raise ModelFileError(
        f"{where}: HDF5 parsing failed ({said[-1][:120] if said else f'exit {done.returncode}'})"
    )
