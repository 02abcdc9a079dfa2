"""Build a checked :class:`~edgedigits.model_files.architecture.Architecture` as a tf_keras model.

Each layer is made by calling the tf_keras class the allowlist names with the arguments it
checked; initializers, regularizers and constraints are made from their class names and numbers.
Nothing is deserialized: tf_keras never sees the file's JSON. tf_keras, because
tensorflow-model-optimization (QAT, pruning, clustering) and tf2onnx need Keras 2 models.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edgedigits._tf import tf_keras
from edgedigits.model_files.architecture import Architecture
from edgedigits.model_files.keras_layers import LayerSpec

_OBJECT_ARGS = ("_initializer", "_regularizer", "_constraint")


def _make_object(keras: Any, key: str, value: dict[str, Any] | None) -> Any:
    if value is None:
        return None
    if key.endswith("_initializer"):
        return getattr(keras.initializers, value["class_name"])()
    module = keras.regularizers if key.endswith("_regularizer") else keras.constraints
    return getattr(module, value["class_name"])(**value.get("config", {}))


def make_layer(layer: LayerSpec) -> Any:
    """The tf_keras layer for one spec (fresh weights)."""
    keras = tf_keras()
    kwargs: dict[str, Any] = {}
    for key, value in layer.args.items():
        if key.endswith(_OBJECT_ARGS):
            kwargs[key] = _make_object(keras, key, value)
        elif key == "padding" and layer.class_name == "ZeroPadding2D":
            kwargs[key] = tuple(tuple(p) for p in value)
        elif isinstance(value, list):
            kwargs[key] = tuple(value)
        else:
            kwargs[key] = value
    return getattr(keras.layers, layer.class_name)(name=layer.name, **kwargs)


def is_chain(arch: Architecture) -> bool:
    """Each layer takes the one before it: a Sequential model."""
    previous = arch.input_name
    for layer in arch.layers:
        if layer.inbound != (previous,):
            return False
        previous = layer.name
    return previous == arch.output


def build_model(arch: Architecture, name: str | None = None) -> Any:
    """A fresh tf_keras model of ``arch`` (uncompiled, newly initialized): Sequential for a
    chain of layers, as the zoo's models are (the BatchNormalization rewrites of QAT and
    int8-fixed take Sequential models), Functional otherwise."""
    keras = tf_keras()
    if is_chain(arch):
        return keras.Sequential(
            [
                keras.Input(shape=arch.input_shape, name=arch.input_name),
                *(make_layer(layer) for layer in arch.layers),
            ],
            name=name or arch.name,
        )
    tensors = {arch.input_name: keras.Input(shape=arch.input_shape, name=arch.input_name)}
    for layer in arch.layers:
        inputs = [tensors[n] for n in layer.inbound]
        tensors[layer.name] = make_layer(layer)(inputs if len(inputs) > 1 else inputs[0])
    return keras.Model(tensors[arch.input_name], tensors[arch.output], name=name or arch.name)


def set_weights(model: Any, arrays: dict[str, list[np.ndarray]]) -> Any:
    """Put each layer's arrays (already checked against the architecture) into ``model``."""
    for layer in model.layers:
        if layer.weights:
            layer.set_weights(arrays[layer.name])
    return model
