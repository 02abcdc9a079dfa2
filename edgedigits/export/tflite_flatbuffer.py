"""Read and amend the .tflite flatbuffer: metadata entries, buffer alignment, weight sparsity.

Labels and preprocessing go inside each .tflite file, as entries of the schema's ``metadata``.

The TFLite schema lets a model carry named metadata entries, each pointing at a buffer. We add:

* ``edgedigits.labels``: the class labels, one per line (``labels.txt`` style);
* ``edgedigits.preprocessing``: JSON with the pixel scaling, layout and the preprocessing
  contract's name (``edgedigits.from_image/2``);
* ``edgedigits.model``: JSON naming the zoo model, recipe and source-model hash;
* ``TFLITE_METADATA``: the standard TFLite Metadata flatbuffer (``tflite_support_metadata.py``:
  normalization and image properties, written without tflite-support, which pins protobuf<4).

So an app that has only the .tflite file can read how to feed it and what its outputs mean.

Rewriting the flatbuffer uses TensorFlow's schema object API, which does not honour the schema's
``force_align: 16`` on buffer data; we pack buffers with that alignment ourselves, because
kernels and TensorFlow Lite Micro read weights in place.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

import numpy as np

PREFIX = "edgedigits."
BUFFER_ALIGNMENT = 16  # the TFLite schema's force_align for Buffer.data


def _schema():
    from tensorflow.lite.python import schema_py_generated as schema

    return schema


@contextlib.contextmanager
def _aligned_buffer_packing() -> Iterator[None]:
    """Temporarily pack ``BufferT.data`` 16-byte aligned, as the schema requires."""
    schema = _schema()
    original = schema.BufferT.Pack

    def pack(self, builder):
        data_offset = None
        if self.data is not None and len(self.data):
            data = np.asarray(self.data, dtype=np.uint8)
            builder.StartVector(1, len(data), BUFFER_ALIGNMENT)
            builder.head = builder.head - len(data)
            builder.Bytes[builder.head : builder.head + len(data)] = data.tobytes()
            builder.vectorNumElems = len(data)
            data_offset = builder.EndVector()
        schema.BufferStart(builder)
        if data_offset is not None:
            schema.BufferAddData(builder, data_offset)
        schema.BufferAddOffset(builder, self.offset)
        schema.BufferAddSize(builder, self.size)
        return schema.BufferEnd(builder)

    schema.BufferT.Pack = pack
    try:
        yield
    finally:
        schema.BufferT.Pack = original


def embed(tflite_bytes: bytes, entries: dict[str, bytes]) -> bytes:
    """Return ``tflite_bytes`` with ``entries`` added (or replaced) as metadata buffers."""
    from tensorflow.lite.tools import flatbuffer_utils

    schema = _schema()
    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(tflite_bytes))
    model.metadata = [m for m in (model.metadata or []) if _name(m.name) not in entries]
    for name, payload in entries.items():
        buffer = schema.BufferT()
        buffer.data = np.frombuffer(payload, dtype=np.uint8)
        model.buffers.append(buffer)
        meta = schema.MetadataT()
        meta.name = name
        meta.buffer = len(model.buffers) - 1
        model.metadata.append(meta)
    with _aligned_buffer_packing():
        return flatbuffer_utils.convert_object_to_bytearray(model)


def _name(raw: Any) -> str:
    return raw.decode() if isinstance(raw, bytes) else str(raw)


def read(tflite_bytes: bytes) -> dict[str, bytes]:
    """All metadata entries of a .tflite file, by name (ours and the converter's)."""
    schema = _schema()
    model = schema.Model.GetRootAsModel(bytearray(tflite_bytes), 0)
    out = {}
    for k in range(model.MetadataLength()):
        meta = model.Metadata(k)
        buffer = model.Buffers(meta.Buffer())
        out[_name(meta.Name())] = bytes(buffer.DataAsNumpy()) if buffer.DataLength() else b""
    return out


def read_edgedigits(tflite_bytes: bytes) -> dict[str, Any]:
    """Our entries decoded: ``labels`` as a list, the JSON ones as dicts."""
    entries = read(tflite_bytes)
    out: dict[str, Any] = {}
    for name, payload in entries.items():
        if not name.startswith(PREFIX):
            continue
        key = name[len(PREFIX) :]
        text = payload.decode("utf-8")
        out[key] = text.splitlines() if key == "labels" else json.loads(text)
    return out


def buffer_alignments(tflite_bytes: bytes) -> list[int]:
    """Byte offset of every non-empty buffer's data, for checking alignment in tests."""
    schema = _schema()
    model = schema.Model.GetRootAsModel(bytearray(tflite_bytes), 0)
    offsets = []
    for k in range(model.BuffersLength()):
        buffer = model.Buffers(k)
        if buffer.DataLength():
            offsets.append(buffer._tab.Vector(buffer._tab.Offset(4)))
    return offsets


def weight_sparsity(tflite_bytes: bytes) -> float:
    """Fraction of zeros in the float32 constant tensors of rank >= 2 (the kernels).

    Used to check that pruning's zeros survived conversion: the converter may fold or transpose
    kernels, but it must not densify them.
    """
    schema = _schema()
    model = schema.Model.GetRootAsModel(bytearray(tflite_bytes), 0)
    zeros = total = 0
    for s in range(model.SubgraphsLength()):
        graph = model.Subgraphs(s)
        for t in range(graph.TensorsLength()):
            tensor = graph.Tensors(t)
            buffer = model.Buffers(tensor.Buffer())
            if (
                tensor.Type() != schema.TensorType.FLOAT32
                or tensor.ShapeLength() < 2
                or not buffer.DataLength()
            ):
                continue
            values = np.frombuffer(bytes(buffer.DataAsNumpy()), dtype="<f4")
            zeros += int(np.sum(values == 0))
            total += values.size
    return zeros / total if total else 0.0


def runtime_requirements(tflite_bytes: bytes) -> dict[str, Any]:
    """What the oldest runtime that loads the file must have: the converter's
    ``min_runtime_version`` metadata (the TensorFlow Lite release whose kernels cover every
    operator version in the file) and each builtin operator with its highest version."""
    schema = _schema()
    model = schema.Model.GetRootAsModel(bytearray(tflite_bytes), 0)
    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    ops: dict[str, int] = {}
    for k in range(model.OperatorCodesLength()):
        code = model.OperatorCodes(k)
        builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
        name = names.get(builtin, f"BUILTIN_{builtin}")
        ops[name] = max(ops.get(name, 0), int(code.Version()))
    version = read(tflite_bytes).get("min_runtime_version", b"").split(b"\0", 1)[0].decode()
    return {"min_runtime_version": version or None, "operators": dict(sorted(ops.items()))}


def signatures(tflite_bytes: bytes) -> list[dict[str, Any]]:
    """The signature defs an app's signature runner exposes: key, and its input and output
    names mapped to the tensor names the interpreter reports."""
    schema = _schema()
    model = schema.Model.GetRootAsModel(bytearray(tflite_bytes), 0)
    out = []
    for k in range(model.SignatureDefsLength()):
        sig = model.SignatureDefs(k)
        graph = model.Subgraphs(sig.SubgraphIndex())

        def names(count, get, graph=graph):
            return {
                _name(get(i).Name()): _name(graph.Tensors(get(i).TensorIndex()).Name())
                for i in range(count)
            }

        out.append(
            {
                "key": _name(sig.SignatureKey()),
                "inputs": names(sig.InputsLength(), sig.Inputs),
                "outputs": names(sig.OutputsLength(), sig.Outputs),
            }
        )
    return out
