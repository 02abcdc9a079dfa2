"""Keras -> ONNX with tf2onnx, and ONNX Runtime's int8 quantizers.

* ``float32``: ``tf2onnx.convert.from_keras``, input named ``input`` with a dynamic ``batch``
  dimension, output renamed ``output``, validated by ``onnx.checker``;
* ``int8``: static QDQ quantization (per-channel weights) calibrated on the same training images
  as the TFLite int8 artifact;
* ``dynamic``: ``quantize_dynamic`` of the MatMul/Gemm weights (ONNX Runtime's CPU provider has
  no int8-weight ConvInteger, so convolutions stay float; dense layers hold most weights anyway).

Labels and preprocessing go into the model's ``metadata_props`` so the file describes itself.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from edgedigits._tf import tensorflow
from edgedigits.contract.recipes import Recipe
from edgedigits.export.calibration import CalibrationSet

DEFAULT_OPSET = 17
MIN_OPSET, MAX_OPSET = 13, 18  # QDQ per-channel needs >= 13; tf2onnx 1.17 is tested up to 18
INPUT_NAME = "input"
OUTPUT_NAME = "output"
BATCH_DIM = "batch"


def keras_to_onnx(
    model: Any, input_shape: tuple[int, ...], opset: int, batch: int | None = None
) -> Any:
    """The float32 ONNX graph of a tf_keras model, with stable names (byte-reproducible).

    ``batch``: None for a dynamic ``batch`` dimension, or a fixed batch (``--onnx-batch 1``),
    which NNAPI and CoreML need to take the graph's nodes."""
    import onnx
    import tf2onnx

    tf = tensorflow()
    # tf2onnx numbers generated node names with a process-global counter; resetting it makes
    # exporting the same model twice produce byte-identical files.
    tf2onnx.utils.INTERNAL_NAME = 1
    signature = [tf.TensorSpec((batch, *input_shape), tf.float32, name=INPUT_NAME)]
    proto, _ = tf2onnx.convert.from_keras(model, input_signature=signature, opset=opset)
    graph = proto.graph
    old_output = graph.output[0].name
    for node in graph.node:
        node.output[:] = [OUTPUT_NAME if o == old_output else o for o in node.output]
    graph.output[0].name = OUTPUT_NAME
    for value in (graph.input[0], graph.output[0]):
        if batch is None:
            value.type.tensor_type.shape.dim[0].dim_param = BATCH_DIM
        else:
            value.type.tensor_type.shape.dim[0].dim_value = batch
    renumber_generated_names(graph)
    onnx.checker.check_model(proto, full_check=True)
    return proto


_GENERATED = re.compile(r"__(\d+)(?!\d)")


def renumber_generated_names(graph: Any) -> None:
    """Renumber tf2onnx's generated ``name__N`` suffixes 1, 2, 3... in the order of N.

    Resetting tf2onnx's counter is not enough: the first conversion in a process draws one more
    name than later ones (``BiasAdd__6`` in a fresh process, ``BiasAdd__5`` after any other
    conversion), so a file's bytes depended on what the process did before. Renumbering makes
    the names a function of the graph alone.
    """

    def all_names():
        for node in graph.node:
            yield node.name
            yield from node.input
            yield from node.output
        for group in (graph.initializer, graph.input, graph.output, graph.value_info):
            for item in group:
                yield item.name

    numbers = sorted({int(m) for name in all_names() for m in _GENERATED.findall(name)})
    mapping = {n: k for k, n in enumerate(numbers, 1)}

    def fix(name: str) -> str:
        return _GENERATED.sub(lambda m: f"__{mapping[int(m.group(1))]}", name)

    for node in graph.node:
        node.name = fix(node.name)
        node.input[:] = [fix(n) for n in node.input]
        node.output[:] = [fix(n) for n in node.output]
    for group in (graph.initializer, graph.input, graph.output, graph.value_info):
        for item in group:
            item.name = fix(item.name)


class _Reader:
    """onnxruntime.quantization.CalibrationDataReader over our calibration images."""

    def __init__(self, calibration: CalibrationSet, batch: int = 50):
        self._batches = [
            calibration.images[k : k + batch] for k in range(0, len(calibration.images), batch)
        ]
        self._next = 0

    def get_next(self) -> dict[str, np.ndarray] | None:
        if self._next >= len(self._batches):
            return None
        self._next += 1
        return {INPUT_NAME: self._batches[self._next - 1]}

    def rewind(self) -> None:
        self._next = 0


REDUCE_RANGE = True  # 7-bit weights in int8 and dynamic (see quantize's docstring)


def quantize(
    float_proto: Any,
    recipe: Recipe,
    calibration: CalibrationSet | None,
    keep_float: list[str] = (),
    batch: int | None = None,
) -> Any:
    """int8 (static QDQ) or dynamic ONNX from the float32 graph; for int8-mixed, the nodes of the
    Keras layers in ``keep_float`` (tf2onnx keeps ``<model>/<layer>/...`` in node names) are
    excluded from quantization.

    Weights use 7 bits (``reduce_range``), static and dynamic. On an x86 CPU with AVX2 but no VNNI,
    ONNX Runtime multiplies uint8 activations by int8 weights with ``vpmaddubsw``, whose int16
    pair sums saturate with full 8-bit weights: there the four CNNs of the default pipeline lost
    0.25-1.89 points of accuracy against float32 (edge_cnn_small 97.63% vs 99.52%), and with
    7-bit weights all five models matched float32 within 0.03 points
    (``bench/results/onnx_reduce_range.md``)."""
    import onnx
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_dynamic,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    CalibrationDataReader.register(_Reader)
    with tempfile.TemporaryDirectory(prefix="edgedigits-onnx-") as tmp:
        src, pre, out = Path(tmp, "float.onnx"), Path(tmp, "pre.onnx"), Path(tmp, "q.onnx")
        onnx.save(float_proto, src)
        quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
        if recipe in (Recipe.INT8, Recipe.INT8_FIXED, Recipe.INT8_MIXED):
            exclude = []
            if keep_float:
                from edgedigits.doctor.layers import layers_named

                exclude = [
                    n.name
                    for n in onnx.load(str(pre)).graph.node
                    if layers_named(n.name, set(keep_float))
                ]
                missing = [
                    k for k in keep_float if not any(k in layers_named(n, {k}) for n in exclude)
                ]
                if missing:
                    raise ValueError(f"no ONNX node found for layer(s) {missing}")
            quantize_static(
                str(pre),
                str(out),
                _Reader(calibration, batch or 50),
                quant_format=QuantFormat.QDQ,
                per_channel=True,
                activation_type=QuantType.QInt8,
                weight_type=QuantType.QInt8,
                reduce_range=REDUCE_RANGE,
                nodes_to_exclude=exclude,
            )
        elif recipe == Recipe.DYNAMIC:
            quantize_dynamic(
                str(pre),
                str(out),
                weight_type=QuantType.QInt8,
                op_types_to_quantize=["MatMul", "Gemm"],
                reduce_range=REDUCE_RANGE,
            )
        else:  # pragma: no cover
            raise ValueError(recipe)
        proto = onnx.load(str(out))
    onnx.checker.check_model(proto)
    return proto


def with_metadata(proto: Any, entries: dict[str, str]) -> bytes:
    """Serialize ``proto`` with ``entries`` as ``metadata_props`` (replacing same-named ones)."""
    keep = [p for p in proto.metadata_props if p.key not in entries]
    del proto.metadata_props[:]
    proto.metadata_props.extend(keep)
    for key, value in entries.items():
        prop = proto.metadata_props.add()
        prop.key, prop.value = key, value
    return proto.SerializeToString()
