"""Which tensor of each artifact holds each Keras layer's output, and its values on test images.

Names survive the conversions: tf_keras names every op ``<model>/<layer>/<op>``; the TFLite
converter joins the names of the ops it fuses with ``;`` into the output tensor's name
(``seed004_cnn/conv2d/Relu;seed004_cnn/conv2d/BiasAdd;...``) and tf2onnx keeps them as node
names. A layer's tensor is the output of the *last* op that names it, if that tensor has the
layer's output shape (ONNX keeps convolutions in NCHW: transposed back to Keras' NHWC here).
Layers the converter folds away (Dropout, a BatchNormalization folded into its convolution) have
no tensor of their own: their error shows in the layer they were folded into.

* TFLite: LiteRT with ``experimental_preserve_all_tensors`` and no delegate (XNNPACK would hide
  the tensors inside its partitions), one image per call; int8 tensors are dequantized with their
  own scale and zero point. A TFLite ``SOFTMAX`` (or other activation) split off its Dense layer
  carries no layer name: it is followed from the layer's last tensor.
* ONNX: the QDQ model with every float tensor added as a graph output, run by ONNX Runtime with
  graph optimizations off (as ONNX Runtime's ``qdq_loss_debug`` does), one image per call. A
  layer's tensor is its ``DequantizeLinear`` output where there is one: the value the next layer
  consumes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ACTIVATION_OPS = {"SOFTMAX", "LOGISTIC", "TANH", "RELU", "RELU6", "HARD_SWISH", "LEAKY_RELU"}
INPUT = "(input)"  # the pseudo-layer for the model's input tensor


@dataclass(frozen=True)
class LayerTensor:
    layer: str  # Keras layer name, or INPUT
    tensor: str  # the artifact's tensor name
    key: Any  # TFLite tensor index or ONNX tensor name
    scale: float | None  # per-tensor quantization, when the tensor is (or is fed to) int8
    zero_point: int | None
    nchw: bool = False  # ONNX: stored NCHW, Keras has NHWC


def keras_layer_outputs(model: Any, x: np.ndarray) -> dict[str, np.ndarray]:
    """Every layer's output on ``x`` (batches of 256), by layer name; the input as INPUT."""
    from edgedigits._tf import tf_keras

    keras = tf_keras()
    probe = keras.Model(model.inputs, [layer.output for layer in model.layers])
    parts = [probe(x[k : k + 256], training=False) for k in range(0, len(x), 256)]
    out = {
        layer.name: np.concatenate([np.asarray(p[i]) for p in parts])
        for i, layer in enumerate(model.layers)
    }
    out[INPUT] = np.asarray(x)
    return out


def layers_named(text: str, layers: set[str]) -> list[str]:
    """Keras layer names a converted tensor or node name refers to (``<model>/<layer>/<op>``)."""
    found = []
    for token in text.split(";"):
        parts = token.split("/")
        for part in parts[1:-1] if len(parts) > 2 else []:
            if part in layers and part not in found:
                found.append(part)
    return found


# -- TFLite -----------------------------------------------------------------------------------


def tflite_interpreter(path: Path) -> Any:
    import warnings

    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "preserve_all_tensors is for debugging": it is
        interpreter = Interpreter(
            model_path=str(path),
            experimental_preserve_all_tensors=True,
            experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
        )
    interpreter.allocate_tensors()
    return interpreter


def tflite_layer_tensors(interpreter: Any, shapes: dict[str, tuple[int, ...]]) -> list[LayerTensor]:
    """One tensor per Keras layer that has one (see the module docstring); input first."""
    details = {d["index"]: d for d in interpreter.get_tensor_details()}
    ops = [op for op in interpreter._get_ops_details() if op["op_name"] != "DELEGATE"]
    layers = set(shapes)
    last: dict[str, int] = {}
    for k, op in enumerate(ops):
        for t in op["outputs"]:
            for layer in layers_named(details[t]["name"], layers):
                last[layer] = k
    inp = interpreter.get_input_details()[0]
    found = [_tflite_tensor(INPUT, inp)]
    for layer in sorted(last, key=lambda name: last[name]):
        k = last[layer]
        tensor = ops[k]["outputs"][0]
        # A split-off activation (TFLite SOFTMAX after FULLY_CONNECTED) names no layer.
        for follower in ops[k + 1 :]:
            if (
                tensor in follower["inputs"]
                and follower["op_name"] in ACTIVATION_OPS
                and not layers_named(details[follower["outputs"][0]]["name"], layers)
            ):
                tensor = follower["outputs"][0]
                break
        if tuple(details[tensor]["shape"][1:]) == tuple(shapes[layer]):
            found.append(_tflite_tensor(layer, details[tensor]))
    return found


def _tflite_tensor(layer: str, detail: dict) -> LayerTensor:
    scale, zero_point = detail.get("quantization", (0.0, 0))
    quantized = bool(scale) and np.dtype(detail["dtype"]).kind in "iu"
    return LayerTensor(
        layer,
        detail["name"],
        detail["index"],
        float(scale) if quantized else None,
        int(zero_point) if quantized else None,
    )


def tflite_values(
    interpreter: Any, tensors: list[LayerTensor], x: np.ndarray
) -> dict[str, np.ndarray]:
    """Each tensor's dequantized value for each image, one image per invoke()."""
    from edgedigits.runtimes import quantize
    from edgedigits.runtimes.litert import _info

    inp = interpreter.get_input_details()[0]
    info = _info(inp)
    values: dict[str, list[np.ndarray]] = {t.layer: [] for t in tensors}
    for k in range(len(x)):
        interpreter.set_tensor(inp["index"], quantize(x[k : k + 1], info))
        interpreter.invoke()
        for t in tensors:
            raw = interpreter.get_tensor(t.key)
            values[t.layer].append(
                raw.astype(np.float64)
                if t.scale is None
                else (raw.astype(np.float64) - t.zero_point) * t.scale
            )
    return {layer: np.concatenate(v) for layer, v in values.items()}


# -- ONNX -------------------------------------------------------------------------------------


def onnx_layer_tensors(
    path: Path, shapes: dict[str, tuple[int, ...]]
) -> tuple[bytes, list[LayerTensor]]:
    """The model with the chosen tensors as extra outputs, and the tensors, input first."""
    import onnx
    from onnx import numpy_helper

    model = onnx.shape_inference.infer_shapes(onnx.load(str(path)))
    graph = model.graph
    init = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    infos = {v.name: v for v in [*graph.value_info, *graph.output, *graph.input]}

    def shape_of(name: str) -> tuple | None:
        info = infos.get(name)
        if info is None or info.type.tensor_type.elem_type != onnx.TensorProto.FLOAT:
            return None
        return tuple(
            d.dim_value if d.HasField("dim_value") else None
            for d in info.type.tensor_type.shape.dim
        )

    layers = set(shapes)
    chosen: dict[str, LayerTensor] = {}
    order: dict[str, int] = {}
    for k, node in enumerate(graph.node):
        for out in node.output:
            named = layers_named(node.name, layers) or layers_named(out, layers)
            shape = shape_of(out)
            if not named or shape is None:
                continue
            layer = named[-1]
            want = tuple(shapes[layer])
            nchw = len(want) == 3 and shape[1:] == (want[2], want[0], want[1])
            if shape[1:] != want and not nchw:
                continue
            scale = zero_point = None
            if node.op_type == "DequantizeLinear":
                scale = float(np.asarray(init[node.input[1]]).reshape(-1)[0])
                zero_point = (
                    int(np.asarray(init[node.input[2]]).reshape(-1)[0])
                    if len(node.input) > 2
                    else 0
                )
            chosen[layer] = LayerTensor(layer, out, out, scale, zero_point, nchw)
            order[layer] = k
    inp = graph.input[0].name
    input_q = next(
        (n for n in graph.node if n.op_type == "QuantizeLinear" and n.input[0] == inp), None
    )
    head = LayerTensor(INPUT, inp, inp, None, None)
    if input_q is not None:
        dq = next(
            (
                n
                for n in graph.node
                if n.op_type == "DequantizeLinear" and n.input[0] == input_q.output[0]
            ),
            None,
        )
        if dq is not None:
            zp = int(np.asarray(init[dq.input[2]]).reshape(-1)[0]) if len(dq.input) > 2 else 0
            head = LayerTensor(
                INPUT,
                dq.output[0],
                dq.output[0],
                float(np.asarray(init[dq.input[1]]).reshape(-1)[0]),
                zp,
            )
    tensors = [head] + [chosen[layer] for layer in sorted(chosen, key=order.get)]
    existing = {o.name for o in graph.output}
    for t in tensors:
        if t.key not in existing:
            graph.output.append(
                infos[t.key]
                if t.key in infos
                else onnx.helper.make_tensor_value_info(t.key, onnx.TensorProto.FLOAT, None)
            )
    return model.SerializeToString(), tensors


def onnx_values(
    model_bytes: bytes, tensors: list[LayerTensor], x: np.ndarray
) -> dict[str, np.ndarray]:
    """Each tensor's value for each image, one image per run, optimizations off."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])
    input_name = session.get_inputs()[0].name
    names = [t.key for t in tensors]
    values: dict[str, list[np.ndarray]] = {t.layer: [] for t in tensors}
    for k in range(len(x)):
        outs = session.run(names, {input_name: x[k : k + 1].astype(np.float32)})
        for t, value in zip(tensors, outs):
            value = np.asarray(value, dtype=np.float64)
            values[t.layer].append(value.transpose(0, 2, 3, 1) if t.nchw else value)
    return {layer: np.concatenate(v) for layer, v in values.items()}
