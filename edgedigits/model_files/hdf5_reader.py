"""The HDF5 half of a model file, read in a child process the kernel holds to a memory and time
budget: this script is that child.

Why a child, and not a pure-Python reader such as ``pyfive``: the HDF5 C library trusts the sizes
a file records. A four-byte change to a size field made it allocate 4 GB, and one inserted byte
sent it into a loop that ran past 300 s; it also raises ``KeyError``, ``RuntimeError`` and more
from damaged headers. A pure-Python reader trusts those fields too, and its loops are as
unbounded; a child under ``RLIMIT_AS`` (address space) and a wall-clock timeout is bounded by the
kernel whatever the parser does, and keeps h5py, the reader Keras itself uses, so what we read
is what Keras reads. The cost is one Python start (about 0.3 s) per file.

Run by ``weights.py`` as ``python -I hdf5_reader.py MAX_BYTES MAX_SECONDS MAX_FILE_BYTES`` (never
imported by the toolkit, so it needs only numpy and h5py); it sets those limits on itself before
importing either. The request comes as JSON on stdin:

* ``{"op": "attrs", "path": P}``: the file's ``model_config`` and ``keras_version`` attributes;
* ``{"op": "weights", "path": P, "kind": "keras"|"h5", "layers": [[class, name], ...],
  "keys": [...], "shapes": {name: [[dims], ...]}, "where": W, "out": NPZ}``: every layer's
  arrays, each checked against its expected shape and dtype before it is read, saved to
  ``NPZ`` as ``"{layer index}/{weight index}"``.

The answer is one JSON line on stdout: ``{"ok": ...}`` or ``{"refused": "one line"}``. Anything
else (a signal, the memory limit, the timeout) the parent reports in one line of its own.
"""

from __future__ import annotations

import json
import sys
from typing import Any

# What h5py raises from a damaged file: OSError from the C library's error stack, and
# KeyError ("bad object header version number"), RuntimeError ("bad symbol table node
# signature"), ValueError, TypeError and others from its Python layer over garbage.
DAMAGED = (
    OSError,
    KeyError,
    RuntimeError,
    ValueError,
    TypeError,
    AttributeError,
    IndexError,
    OverflowError,
    UnicodeDecodeError,
    SystemError,
)


class Refused(Exception):
    """The file is not a model file we read: the message is the one line the user sees."""


def first_line(exc: BaseException, limit: int = 120) -> str:
    lines = str(exc).strip().splitlines()
    text = lines[0][:limit] if lines else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def read_attrs(h5py: Any, path: str) -> dict[str, Any]:
    with h5py.File(path, "r") as fh:
        out = {}
        for key in ("model_config", "keras_version"):
            value = fh.attrs.get(key)
            if isinstance(value, bytes):
                value = value.decode("utf-8", "replace")
            out[key] = value if isinstance(value, str) else None
            if value is not None and not isinstance(value, str):
                out[key + "_type"] = type(value).__name__
    return out


def _hard_child(h5py: Any, group: Any, key: str, where: str) -> Any:
    """``group[key]`` only through a hard link inside this file (no external or soft link), and
    only where ``group`` is a group: a damaged file may put an array where a group belongs."""
    if group is None:
        return None
    if not isinstance(group, h5py.Group):
        raise Refused(f"{where}: an array where a group of weights belongs")
    link = group.get(key, getlink=True)
    if link is None:
        return None
    if not isinstance(link, h5py.HardLink):
        raise Refused(f"{where}: {key!r} is a link to elsewhere; refused")
    return group[key]


def _read_array(h5py: Any, np: Any, dataset: Any, expected: tuple[int, ...], where: str) -> Any:
    if not isinstance(dataset, h5py.Dataset):
        raise Refused(f"{where}: not an array")
    if dataset.is_virtual or dataset.external:
        raise Refused(f"{where}: stored outside the file; refused")
    if tuple(dataset.shape) != tuple(expected):
        raise Refused(
            f"{where}: shape {tuple(dataset.shape)}, the architecture needs {tuple(expected)}"
        )
    if dataset.dtype != np.float32:
        raise Refused(f"{where}: dtype {dataset.dtype}, expected float32")
    return np.asarray(dataset[()], dtype=np.float32)


def _has_arrays(h5py: Any, node: Any) -> bool:
    if isinstance(node, h5py.Dataset):
        return True
    if not isinstance(node, h5py.Group):
        return False
    found = []

    def look(name: str) -> None:
        if isinstance(node.get(name, getlink=True), h5py.HardLink) and isinstance(
            node[name], h5py.Dataset
        ):
            found.append(name)

    node.visit(look)
    return bool(found)


def read_keras_weights(h5py: Any, np: Any, fh: Any, req: dict[str, Any]) -> dict[str, Any]:
    where, layers, shapes = req["where"], req["layers"], req["shapes"]
    group = _hard_child(h5py, fh, "layers", where)
    keys = req["keys"]  # each layer's key, by Keras' naming rule (weights.keras_zip_keys)
    found: dict[str, Any] = {}
    expected_keys = set()
    for index, (key, (_, name)) in enumerate(zip(keys, layers)):
        expected = shapes.get(name, [])
        expected_keys.add(key)
        layer = _hard_child(h5py, group, key, where)
        vars_group = _hard_child(h5py, layer, "vars", where)
        if vars_group is not None and not isinstance(vars_group, h5py.Group):
            raise Refused(f"{where}: layer {name!r}: an array where its weights' group belongs")
        stored = sorted(vars_group.keys(), key=_as_int) if vars_group is not None else []
        if [str(k) for k in range(len(expected))] != stored:
            raise Refused(
                f"{where}: layer {name!r} has {len(stored)} weight arrays in "
                f"the file, the architecture needs {len(expected)}"
            )
        for k, shape in enumerate(expected):
            found[f"{index}/{k}"] = _read_array(
                h5py,
                np,
                _hard_child(h5py, vars_group, str(k), where),
                tuple(shape),
                f"{where}: layer {name!r} weight {k}",
            )
    if group is not None:
        _refuse_extra_layers(h5py, group, expected_keys, where)
    return found


def _refuse_extra_layers(h5py: Any, group: Any, known: set[str], where: str) -> None:
    """Arrays under a layer the architecture does not have: the file is not this model."""
    extra = [k for k in group.keys() if k not in known and _has_arrays(h5py, group[k])]
    if extra:
        raise Refused(
            f"{where}: weights for layers the architecture does not have "
            f"({', '.join(sorted(extra)[:5])})"
        )


def _as_int(text: str) -> int:
    return int(text) if text.isdigit() else 1 << 30


def read_h5_weights(h5py: Any, np: Any, fh: Any, req: dict[str, Any]) -> dict[str, Any]:
    where, layers, shapes = req["where"], req["layers"], req["shapes"]
    group = _hard_child(h5py, fh, "model_weights", where) or fh
    if not isinstance(group, h5py.Group):
        raise Refused(f"{where}: model_weights is an array, not a group of layers")
    found: dict[str, Any] = {}
    for index, (_, name) in enumerate(layers):
        expected = shapes.get(name, [])
        layer = _hard_child(h5py, group, name, where)
        names = []
        if layer is not None:
            raw = layer.attrs.get("weight_names", [])
            if isinstance(raw, (str, bytes)) or not hasattr(raw, "__iter__"):
                raise Refused(f"{where}: layer {name!r}: weight_names is not a list of names")
            names = [n.decode("utf-8", "replace") if isinstance(n, bytes) else str(n) for n in raw]
        if len(names) != len(expected):
            raise Refused(
                f"{where}: layer {name!r} has {len(names)} weight arrays in "
                f"the file, the architecture needs {len(expected)}"
            )
        for k, (weight_name, shape) in enumerate(zip(names, expected)):
            node = layer
            for part in weight_name.split("/"):
                node = _hard_child(h5py, node, part, where) if part else node
            if node is None:
                raise Refused(f"{where}: layer {name!r} weight {weight_name!r} is missing")
            found[f"{index}/{k}"] = _read_array(
                h5py, np, node, tuple(shape), f"{where}: layer {name!r} weight {k}"
            )
    _refuse_extra_layers(
        h5py, group, {name for _, name in layers} | {"top_level_model_weights"}, where
    )
    return found


def serve(req: dict[str, Any]) -> dict[str, Any]:
    import h5py
    import numpy as np

    h5py.get_config().track_order = False
    if req["op"] == "attrs":
        return {"ok": read_attrs(h5py, req["path"])}
    with h5py.File(req["path"], "r") as fh:
        reader = read_keras_weights if req["kind"] == "keras" else read_h5_weights
        arrays = reader(h5py, np, fh, req)
    np.savez(req["out"], **arrays)
    return {"ok": len(arrays)}


def limit(max_bytes: int, max_seconds: int, max_file_bytes: int) -> None:
    """The kernel's bounds on this process, set before numpy or h5py is imported."""
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (max_bytes, max_bytes))
    resource.setrlimit(resource.RLIMIT_CPU, (max_seconds, max_seconds + 5))
    resource.setrlimit(resource.RLIMIT_FSIZE, (max_file_bytes, max_file_bytes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def main(argv: list[str]) -> int:
    limit(*(int(a) for a in argv[:3]))
    req = json.loads(sys.stdin.read())
    where = req["where"]
    try:
        answer = serve(req)
    except Refused as exc:
        answer = {"refused": str(exc)}
    except MemoryError:
        answer = {
            "refused": f"{where}: HDF5 asks for more memory than a model file may "
            "(a corrupt size field?)"
        }
    except RecursionError:
        answer = {"refused": f"{where}: HDF5 nested too deeply to read"}
    except DAMAGED as exc:
        answer = {"refused": f"{where}: damaged HDF5 ({first_line(exc)})"}
    sys.stdout.write(json.dumps(answer) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
