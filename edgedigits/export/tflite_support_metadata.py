"""The standard TFLite Metadata (``TFLITE_METADATA``), written without tflite-support.

Android Studio's ML Model Binding, the TFLite Support library and MediaPipe read a ``.tflite``'s
input normalization and image properties from a ``TFLITE_METADATA`` entry: a ``ModelMetadata``
flatbuffer (file identifier ``M001``) defined by tflite-support's ``metadata_schema.fbs``
(schema 1.1.0; we use only what 1.0.0 has). tflite-support, which writes it, pins protobuf
below 4 and cannot be installed beside TensorFlow 2.21, so this module builds the flatbuffer
with the ``flatbuffers`` package and the schema's field order:

- ``ModelMetadata``: name (0), description (1), version (2), subgraph_metadata (3), author (4),
  license (5), associated_files (6), min_parser_version (7);
- ``SubGraphMetadata``: name (0), description (1), input_tensor_metadata (2),
  output_tensor_metadata (3);
- ``TensorMetadata``: name (0), description (1), dimension_names (2), content (3),
  process_units (4), stats (5);
- ``Content``: content_properties, a union (type 0, value 1; ``FeatureProperties`` = 1,
  ``ImageProperties`` = 2), range (2); ``ImageProperties``: color_space (0; GRAYSCALE = 2),
  default_size (1); ``ImageSize``: width (0), height (1);
- ``ProcessUnit``: options, a union (type 0, value 1; ``NormalizationOptions`` = 1);
  ``NormalizationOptions``: mean (0), std (1), so that ``x = (pixel - mean) / std``;

It says what NormalizationOptions can: ``x = pixel * scale + offset`` as ``mean = -offset /
scale``, ``std = 1 / scale``, on a 28x28 grayscale image (or 784 features for a flat model).
What it cannot say, how a picture becomes that image, the input's description names: the
preprocessing contract (``edgedigits.from_image/2``), whose steps the manifest carries. Nothing
more: a microcontroller's file is counted in bytes (``edge_cnn_micro``'s int8 file has 8 KB).
``read`` parses the same fields back (what the tests check).
"""

from __future__ import annotations

from typing import Any

ENTRY = "TFLITE_METADATA"
IDENTIFIER = b"M001"
MIN_PARSER_VERSION = "1.0.0"
GRAYSCALE = 2
FEATURE_PROPERTIES, IMAGE_PROPERTIES = 1, 2
NORMALIZATION_OPTIONS = 1


def build(
    name: str, scale: float, offset: float, input_shape: tuple[int, ...], output: str, contract: str
) -> bytes:
    """The ``ModelMetadata`` flatbuffer for a digit model's one input and one output."""
    import flatbuffers

    b = flatbuffers.Builder(256)
    image = len(input_shape) >= 2

    def string(text: str) -> int:
        return b.CreateString(text)

    def table(fields: list[tuple[int, str, Any]]) -> int:
        """One table: (slot, kind, value) with kind offset, byte or uint32."""
        b.StartObject(max((slot for slot, _, _ in fields), default=-1) + 1)
        for slot, kind, value in fields:
            if kind == "offset":
                b.PrependUOffsetTRelativeSlot(slot, value, 0)
            elif kind == "byte":
                b.PrependUint8Slot(slot, value, 0)
            else:
                b.PrependUint32Slot(slot, value, 0)
        return b.EndObject()

    def vector_of(offsets: list[int]) -> int:
        b.StartVector(4, len(offsets), 4)
        for off in reversed(offsets):
            b.PrependUOffsetTRelative(off)
        return b.EndVector()

    def floats(values: list[float]) -> int:
        b.StartVector(4, len(values), 4)
        for v in reversed(values):
            b.PrependFloat32(v)
        return b.EndVector()

    # input: the image (or features), its normalization, and the contract by name
    mean, std = floats([0.0 - offset / scale + 0.0]), floats([1.0 / scale])
    normalization = table([(0, "offset", mean), (1, "offset", std)])
    unit = table([(0, "byte", NORMALIZATION_OPTIONS), (1, "offset", normalization)])
    if image:
        size = table([(0, "uint", input_shape[1]), (1, "uint", input_shape[0])])
        properties = table([(0, "byte", GRAYSCALE), (1, "offset", size)])
        kind = IMAGE_PROPERTIES
    else:
        properties, kind = table([]), FEATURE_PROPERTIES
    content_in = table([(0, "byte", kind), (1, "offset", properties)])
    input_description = string(contract)  # how a picture becomes this image
    tensor_in = table(
        [
            (0, "offset", string("image")),
            (1, "offset", input_description),
            (3, "offset", content_in),
            (4, "offset", vector_of([unit])),
        ]
    )
    # output: ten scores, probabilities in [0, 1] or logits
    features = table([])
    content_out = table([(0, "byte", FEATURE_PROPERTIES), (1, "offset", features)])
    tensor_out = table([(0, "offset", string(output)), (3, "offset", content_out)])
    subgraph = table(
        [(2, "offset", vector_of([tensor_in])), (3, "offset", vector_of([tensor_out]))]
    )
    root = table(
        [
            (0, "offset", string(name)),
            (3, "offset", vector_of([subgraph])),
            (7, "offset", string(MIN_PARSER_VERSION)),
        ]
    )
    b.Finish(root, file_identifier=IDENTIFIER)
    return bytes(b.Output())


def read(data: bytes) -> dict[str, Any]:
    """The fields ``build`` writes, parsed back by slot (a reader for tests and ``verify``)."""
    from flatbuffers import table as fb_table

    if data[4:8] != IDENTIFIER:
        raise ValueError(f"not a TFLite ModelMetadata flatbuffer (identifier {data[4:8]!r})")
    buf = bytearray(data)

    def at(pos: int) -> fb_table.Table:
        return fb_table.Table(buf, pos)

    def field(t: fb_table.Table, slot: int) -> int:
        return t.Offset(4 + 2 * slot)

    def text(t: fb_table.Table, slot: int) -> str | None:
        o = field(t, slot)
        return t.String(o + t.Pos).decode() if o else None

    def sub(t: fb_table.Table, slot: int) -> fb_table.Table | None:
        o = field(t, slot)
        return at(t.Indirect(o + t.Pos)) if o else None

    def items(t: fb_table.Table, slot: int) -> list[fb_table.Table]:
        o = field(t, slot)
        if not o:
            return []
        start, n = t.Vector(o), t.VectorLen(o)
        return [at(t.Indirect(start + 4 * k)) for k in range(n)]

    def floats(t: fb_table.Table, slot: int) -> list[float]:
        import numpy as np

        o = field(t, slot)
        if not o:
            return []
        start, n = t.Vector(o), t.VectorLen(o)
        return [float(v) for v in np.frombuffer(bytes(buf[start : start + 4 * n]), "<f4")]

    def byte(t: fb_table.Table, slot: int) -> int:
        o = field(t, slot)
        return buf[t.Pos + o] if o else 0

    def tensor(t: fb_table.Table) -> dict[str, Any]:
        content = sub(t, 3)
        out: dict[str, Any] = {"name": text(t, 0), "description": text(t, 1)}
        kind = byte(content, 0) if content else 0
        out["content"] = {IMAGE_PROPERTIES: "image", FEATURE_PROPERTIES: "feature"}.get(kind)
        if kind == IMAGE_PROPERTIES:
            props = sub(content, 1)
            size = sub(props, 1)
            width = int.from_bytes(buf[size.Pos + field(size, 0) :][:4], "little")
            height = int.from_bytes(buf[size.Pos + field(size, 1) :][:4], "little")
            out["color_space"] = {1: "RGB", 2: "GRAYSCALE"}.get(byte(props, 0), "UNKNOWN")
            out["size"] = [int(width), int(height)]
        for unit in items(t, 4):
            if byte(unit, 0) == NORMALIZATION_OPTIONS:
                options = sub(unit, 1)
                out["normalization"] = {"mean": floats(options, 0), "std": floats(options, 1)}
        return out

    root = at(int.from_bytes(buf[:4], "little"))
    subgraphs = items(root, 3)
    return {
        "name": text(root, 0),
        "min_parser_version": text(root, 7),
        "inputs": [tensor(t) for t in items(subgraphs[0], 2)] if subgraphs else [],
        "outputs": [tensor(t) for t in items(subgraphs[0], 3)] if subgraphs else [],
    }
