"""A model's architecture as checked data: its layers in order, their shapes and weights.

Whatever a model file is (a Keras 3 or tf_keras config, read by ``keras_json``; an
``import.json`` record), what edgedigits builds from it is an :class:`Architecture`: allowlisted
layer specs (``keras_layers``) in an order where each layer's inputs come first, every layer
leading to the one output, with each layer's output shape and weight shapes inferred from the
arguments alone (``shapes.py``), so a file claiming a billion weights is refused before anything
is allocated. :func:`assemble` makes one and enforces the limits; ``rebuild.py`` builds it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from edgedigits.errors import ModelFileError
from edgedigits.model_files.keras_layers import (
    LAYERS,
    MERGE_LAYERS,
    LayerSpec,
    Refused,
    layer_args,
    refuse,
    valid_name,
)
from edgedigits.model_files.shapes import ShapeError, infer

# Limits, each with its reason. A file may claim anything; these bound what we build from it.
MAX_LAYERS = 256  # digit classifiers have tens of layers
MAX_PARAMS = 20_000_000  # 80 MB of float32; the zoo's largest model has 1.2 M
MAX_ACTIVATION = 1 << 21  # elements per image in any layer output (28x28x2048 fits)
INPUT_SHAPES = ((784,), (28, 28), (28, 28, 1))  # what the data's 28x28 grayscale images fill


@dataclass(frozen=True)
class Architecture:
    """An allowlisted single-input, single-output image classifier, as plain data.

    ``layers`` are in an order where each layer's inputs come before it; ``shapes`` and
    ``weight_shapes`` were inferred from the arguments alone, so a file claiming a billion
    weights is refused before anything is allocated.
    """

    name: str
    input_name: str
    input_shape: tuple[int, ...]
    layers: tuple[LayerSpec, ...]
    output: str
    shapes: dict[str, tuple[int, ...]] = field(compare=False)  # output shape per layer
    weight_shapes: dict[str, list[tuple[int, ...]]] = field(compare=False)  # in Keras' order

    @property
    def num_classes(self) -> int:
        return self.shapes[self.output][-1]

    @property
    def params(self) -> int:
        return sum(math.prod(s) for shapes in self.weight_shapes.values() for s in shapes)

    @property
    def emits_logits(self) -> bool:
        """Read from the graph: the last layer that changes values ends in a softmax or not."""
        for layer in reversed(self.layers):
            if layer.class_name in ("Dropout", "SpatialDropout2D", "Flatten", "Reshape"):
                continue
            if layer.class_name == "Softmax":
                return False
            activation = layer.args.get("activation")
            return activation != "softmax"
        return True

    def summary(self) -> str:
        """One line, like the zoo table's: ``Conv2D(8)-MaxPooling2D-Flatten-Dense(10)``."""
        parts = []
        for layer in self.layers:
            size = layer.args.get("filters") or layer.args.get("units")
            parts.append(f"{layer.class_name}({size})" if size else layer.class_name)
        return "-".join(parts)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "input_name": self.input_name,
            "input_shape": list(self.input_shape),
            "layers": [layer.to_json() for layer in self.layers],
            "output": self.output,
        }

    @classmethod
    def from_json(cls, doc: Any, where: str) -> Architecture:
        """An architecture stored by ``import`` (``import.json``), checked like a new file."""
        try:
            layers = [
                (item["class_name"], item["name"], item["args"], tuple(item["inbound"]))
                for item in doc["layers"]
            ]
            return assemble(
                doc["name"],
                doc["input_name"],
                doc["input_shape"],
                layers,
                doc["output"],
                checked=False,
            )
        except Refused as exc:
            raise ModelFileError(f"{where}: {exc}") from None
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelFileError(f"{where}: not an architecture record ({exc!r})") from None


def assemble(
    model_name: Any,
    input_name: Any,
    input_shape: Any,
    items: list[tuple[str, str, dict[str, Any], tuple[str, ...]]],
    output: Any,
    checked: bool,
) -> Architecture:
    """Check every layer's arguments, order the graph, infer shapes and weight shapes.

    ``checked``: the items come from a Keras config (arguments still in Keras' names, to be
    checked and converted); otherwise from our own record (arguments already converted, checked
    again all the same)."""
    for what, value in (("model name", model_name), ("input name", input_name), ("output", output)):
        if not isinstance(value, str) or not valid_name(value):
            raise Refused(f"{what} {value!r} is not a usable name")
    shape = tuple(input_shape) if isinstance(input_shape, (list, tuple)) else None
    if shape not in INPUT_SHAPES:
        raise Refused(
            f"input shape {input_shape!r}: supported inputs are {', '.join(map(str, INPUT_SHAPES))}"
        )
    if len(items) > MAX_LAYERS:
        raise Refused(f"{len(items)} layers, over the limit of {MAX_LAYERS}")
    specs: dict[str, LayerSpec] = {}
    for class_name, name, config, inbound in items:
        if (
            not isinstance(name, str)
            or not valid_name(name)
            or name in specs
            or (name == input_name)
        ):
            raise Refused(f"layer name {name!r} is unusable or used twice")
        if class_name not in LAYERS:
            raise Refused(f"layer {name!r} is a {class_name!r}, which is not supported")
        args = layer_args(class_name, name, config, from_keras=checked)
        specs[name] = LayerSpec(class_name, name, args, tuple(inbound))
    ordered = topological(specs, input_name, output)
    shapes: dict[str, tuple[int, ...]] = {input_name: shape}
    weights: dict[str, list[tuple[int, ...]]] = {}
    total = 0
    for layer in ordered:
        ins = [shapes[n] for n in layer.inbound]
        try:
            shapes[layer.name], weights[layer.name] = infer(layer.class_name, layer.args, ins)
        except ShapeError as exc:
            raise refuse(layer.name, str(exc)) from None
        total += sum(math.prod(s) for s in weights[layer.name])
        if total > MAX_PARAMS:
            raise Refused(
                f"layer {layer.name!r}: more than {MAX_PARAMS:,} weights in all, over "
                "the limit for a digit classifier"
            )
        if math.prod(shapes[layer.name]) > MAX_ACTIVATION:
            raise Refused(
                f"layer {layer.name!r}: output of {math.prod(shapes[layer.name]):,} "
                f"values per image, over the limit of {MAX_ACTIVATION:,}"
            )
    if len(shapes[output]) != 1 or shapes[output][0] < 2:
        raise Refused(
            f"the output {output!r} has shape {shapes[output]}; expected one score "
            "per class (C,), C >= 2"
        )
    return Architecture(model_name, input_name, shape, tuple(ordered), output, shapes, weights)


def topological(specs: dict[str, LayerSpec], input_name: str, output: str) -> list[LayerSpec]:
    """Layers in an order where inputs come first; every layer must feed the output."""
    if output not in specs:
        raise Refused(f"the output {output!r} is not one of the layers")
    for layer in specs.values():
        for source in layer.inbound:
            if source != input_name and source not in specs:
                raise refuse(layer.name, f"takes input from unknown layer {source!r}")
        if layer.class_name in MERGE_LAYERS:
            if len(layer.inbound) < 2:
                raise refuse(layer.name, f"{layer.class_name} needs two or more inputs")
        elif len(layer.inbound) != 1:
            raise refuse(layer.name, f"takes {len(layer.inbound)} inputs, expected one")
    # Stable: a file's own order is kept when it is already valid (Keras writes it so), because
    # the .keras weights file numbers layers of one class in that order.
    order: list[LayerSpec] = []
    placed = {input_name}
    pending = list(specs.values())
    while pending:
        ready = next((layer for layer in pending if all(s in placed for s in layer.inbound)), None)
        if ready is None:
            raise Refused(f"the layers {', '.join(layer.name for layer in pending)} form a cycle")
        order.append(ready)
        placed.add(ready.name)
        pending.remove(ready)
    used = {output}
    for layer in reversed(order):
        if layer.name in used:
            used.update(layer.inbound)
    unused = [layer.name for layer in order if layer.name not in used]
    if unused:
        raise Refused(
            f"layers {', '.join(unused)} do not lead to the output; only one-output "
            "models are supported"
        )
    return order
