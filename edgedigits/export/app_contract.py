"""What an app codes against, per artifact: its names, its numbers, and the oldest runtime.

``manifest.json`` records, for every file, an ``interface`` block built here from the file itself
(never from what we meant to write):

- ``names``: what each runtime exposes. A ``.tflite``: its signature key and the signature's
  input and output names (what a signature runner and LiteRT.js take), mapped to the tensor names
  the interpreter reports. ONNX and ORT: the graph's input and output names.
- ``input``: from a 28x28 grayscale pixel (uint8, 0 = background) to the tensor, in numbers:
  ``x = pixel * scale + offset``, then, for an integer tensor,
  ``q = clamp(round_half_away_from_zero(x / s) + zp, min, max)`` (TFLite's own QUANTIZE rounds
  half away from zero; NumPy's ``round`` would not), with ``s``, ``zp``, ``min`` and ``max``;
  and ``from_image``: how a real picture (a canvas, a camera frame) becomes those 28x28 pixels,
  the preprocessing contract (``contract/preprocessing.py``).
- ``output``: for an integer tensor ``y = (q - zp) * s``; then what ``y`` is (probabilities or
  logits: softmax them if you need probabilities) and the labels; argmax is the digit.
- ``requires``: the oldest runtime that loads it. A ``.tflite``: the converter's
  ``min_runtime_version`` and the highest version of each builtin operator (a runtime must
  register each at that version: TFLM's resolver, LiteRT's op resolver). ONNX: opset and IR
  version, and the ONNX release that introduced both (any ONNX Runtime implementing that release
  or a later one loads it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from edgedigits.contract.preprocessing import from_image_contract
from edgedigits.export import tflite_flatbuffer
from edgedigits.export.manifest import LABELS, output_kind
from edgedigits.zoo import ModelSpec

QUANTIZE_RULE = "q = clamp(round_half_away_from_zero(x / scale) + zero_point, min, max)"
DEQUANTIZE_RULE = "y = (q - zero_point) * scale"
PIXELS_RULE = "x = pixel * scale + offset"


def _tensor(info: dict[str, Any]) -> dict[str, Any]:
    return {"name": info["name"], "shape": info["shape"], "dtype": info["dtype"]}


def _integer(info: dict[str, Any]) -> dict[str, Any] | None:
    quant = info.get("quantization")
    if not quant or np.dtype(info["dtype"]).kind not in "iu":
        return None
    limits = np.iinfo(np.dtype(info["dtype"]))
    return {
        "scale": quant["scale"],
        "zero_point": quant["zero_point"],
        "min": int(limits.min),
        "max": int(limits.max),
    }


def input_contract(tensor: dict[str, Any], spec: ModelSpec) -> dict[str, Any]:
    integer = _integer(tensor)
    return {
        **_tensor(tensor),
        "from_pixels": {
            "rule": PIXELS_RULE,
            "scale": spec.input_scale,
            "offset": spec.input_offset,
            "layout": spec.input_layout,
            "pixels": "28x28 grayscale uint8, 0 = background (MNIST)",
        },
        "from_image": from_image_contract(),
        "quantize": None if integer is None else {"rule": QUANTIZE_RULE, **integer},
    }


def output_contract(tensor: dict[str, Any], spec: ModelSpec) -> dict[str, Any]:
    integer = _integer(tensor)
    return {
        **_tensor(tensor),
        "dequantize": None
        if integer is None
        else {
            "rule": DEQUANTIZE_RULE,
            "scale": integer["scale"],
            "zero_point": integer["zero_point"],
        },
        "values": output_kind(spec),
        "labels": LABELS,
        "read": "argmax over the 10 values is the digit",
    }


def tflite_names(tflite_bytes: bytes, inputs: list[dict], outputs: list[dict]) -> dict[str, Any]:
    signatures = tflite_flatbuffer.signatures(tflite_bytes)
    return {
        "signatures": signatures,
        "tensors": {"inputs": [t["name"] for t in inputs], "outputs": [t["name"] for t in outputs]},
    }


def onnx_requirements(onnx_bytes: bytes) -> dict[str, Any]:
    import onnx

    model = onnx.load_from_string(onnx_bytes)
    opset = max(
        (o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=None
    )
    domains = sorted({o.domain for o in model.opset_import if o.domain not in ("", "ai.onnx")})
    release = next(
        (
            row[0]
            for row in onnx.helper.VERSION_TABLE
            if row[1] >= model.ir_version and row[2] >= (opset or 0)
        ),
        None,
    )
    return {
        "opset": opset,
        "ir_version": int(model.ir_version),
        "other_domains": domains,
        "onnx_release": release,
        "rule": "loads in any ONNX Runtime that implements this ONNX release or a later one",
    }


def interface(
    fmt: str,
    path: Path,
    inputs: list[dict],
    outputs: list[dict],
    spec: ModelSpec,
    tflite_bytes: bytes | None = None,
    onnx_bytes: bytes | None = None,
) -> dict[str, Any]:
    """The ``interface`` block of one artifact's manifest record (see the module docstring).
    ``tflite_bytes`` for a C array (its .tflite bytes); ``onnx_bytes`` for an .ort file (the
    ONNX graph it was converted from)."""
    contract: dict[str, Any] = {
        "input": input_contract(inputs[0], spec),
        "output": output_contract(outputs[0], spec),
    }
    if fmt in ("tflite", "c"):
        data = tflite_bytes if tflite_bytes is not None else path.read_bytes()
        contract["names"] = tflite_names(data, inputs, outputs)
        contract["requires"] = tflite_flatbuffer.runtime_requirements(data)
    else:
        contract["names"] = {
            "inputs": [t["name"] for t in inputs],
            "outputs": [t["name"] for t in outputs],
        }
        contract["requires"] = onnx_requirements(
            onnx_bytes if onnx_bytes is not None else path.read_bytes()
        )
    return contract
