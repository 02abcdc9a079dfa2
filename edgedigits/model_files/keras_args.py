"""A layer argument read from a model file, checked: the checkers the layer allowlist is made of.

Each checker takes ``(layer, key, value)`` and returns the value to build with, or raises
:class:`Refused` naming the layer and the argument. Initializers, regularizers and constraints
are accepted only as Keras' built-in classes by name, with numeric arguments; activations only
by name. ``keras_layers.LAYERS`` composes them per layer class.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Any

from edgedigits.errors import ModelFileError

# Activations by name (tf_keras has each under this name).
ACTIVATIONS = frozenset(
    {
        "linear",
        "relu",
        "sigmoid",
        "softmax",
        "tanh",
        "elu",
        "selu",
        "softplus",
        "softsign",
        "swish",
        "silu",
        "gelu",
        "hard_sigmoid",
        "exponential",
    }
)
# Built-in initializers: they only shape training; accepted by class name, config ignored
# (the weights come from the file).
INITIALIZERS = frozenset(
    {
        "GlorotUniform",
        "GlorotNormal",
        "HeUniform",
        "HeNormal",
        "LecunUniform",
        "LecunNormal",
        "Zeros",
        "Ones",
        "Constant",
        "RandomUniform",
        "RandomNormal",
        "TruncatedNormal",
        "VarianceScaling",
        "Orthogonal",
        "Identity",
    }
)
# Regularizers and constraints shape fine-tuning (QAT, pruning), so their numbers are kept.
REGULARIZERS = {"L1": ("l1",), "L2": ("l2",), "L1L2": ("l1", "l2")}
CONSTRAINTS = {
    "MaxNorm": ("max_value", "axis"),
    "NonNeg": (),
    "UnitNorm": ("axis",),
    "MinMaxNorm": ("min_value", "max_value", "rate", "axis"),
}
# Keys every layer config may carry that change nothing we build (checked where they matter).
LAYER_META = frozenset({"name", "trainable", "dtype"})


class Refused(ModelFileError):
    """The file describes something outside the allowlist; the message names the layer."""


# -- argument checkers: each takes (layer, key, value) and returns the value to build with --------

Check = Callable[[str, str, Any], Any]


def refuse(layer: str, what: str) -> Refused:
    return Refused(f"layer {layer!r}: {what}")


def plain_json(value: Any) -> Any:
    """A live layer's ``get_config()`` (fixes.py copies layers) may hold NumPy scalars or 0-d
    arrays where a file's JSON holds numbers."""
    return value.item() if getattr(value, "ndim", None) == 0 and hasattr(value, "item") else value


def integer(low: int, high: int) -> Check:
    def check(layer: str, key: str, value: Any) -> int:
        value = plain_json(value)
        if (
            isinstance(value, bool)
            or not isinstance(value, numbers.Integral)
            or not (low <= value <= high)
        ):
            raise refuse(layer, f"{key} {value!r}: expected a whole number {low}-{high}")
        return int(value)

    return check


def number_in(low: float, high: float, *, none: bool = False) -> Check:
    def check(layer: str, key: str, value: Any) -> float | None:
        if value is None and none:
            return None
        value = plain_json(value)
        if (
            isinstance(value, bool)
            or not isinstance(value, numbers.Real)
            or not (low <= value <= high)
        ):
            raise refuse(layer, f"{key} {value!r}: expected a number {low:g} to {high:g}")
        return float(value)

    return check


def flag(layer: str, key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise refuse(layer, f"{key} {value!r}: expected true or false")
    return value


def pair(low: int, high: int) -> Check:
    """An int or a pair of ints (kernel_size, strides, pool_size), always returned as a pair."""
    one = integer(low, high)

    def check(layer: str, key: str, value: Any) -> list[int]:
        if isinstance(value, (list, tuple)) and len(value) == 2:
            return [one(layer, key, v) for v in value]
        return [one(layer, key, value)] * 2

    return check


def optional(inner: Check) -> Check:
    def check(layer: str, key: str, value: Any) -> Any:
        return None if value is None else inner(layer, key, value)

    return check


def choice(*options: Any) -> Check:
    def check(layer: str, key: str, value: Any) -> Any:
        if value not in options:
            raise refuse(layer, f"{key} {value!r}: supported: {', '.join(map(repr, options))}")
        return value

    return check


def exactly(expected: Any, why: str) -> Check:
    """Accepted only at the value that changes nothing; dropped from what we build."""

    def check(layer: str, key: str, value: Any) -> None:
        if value != expected and not (expected is None and value in (None, 0, False)):
            raise refuse(layer, f"{key} {value!r}: not supported ({why})")
        return None

    return check


def activation(layer: str, key: str, value: Any) -> str:
    if not isinstance(value, str) or value not in ACTIVATIONS:
        shown = value.get("class_name", value) if isinstance(value, dict) else value
        raise refuse(
            layer,
            f"activation {shown!r} is not a built-in activation by name "
            f"(accepted: {', '.join(sorted(ACTIVATIONS))})",
        )
    return value


def builtin_object(
    allowed: dict[str, tuple[str, ...]] | frozenset[str], noun: str, keep_config: bool
) -> Check:
    """A serialized initializer, regularizer or constraint: an allowlisted class by name."""

    def check(layer: str, key: str, value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, str) and not keep_config and value in allowed:
            return {"class_name": value}
        if not isinstance(value, dict) or not isinstance(value.get("class_name"), str):
            raise refuse(layer, f"{key}: expected a built-in {noun} by class name")
        name = value["class_name"]
        if name not in allowed or value.get("registered_name") not in (None, name):
            raise refuse(
                layer,
                f"{key}: {noun} {name!r} is not a built-in one we accept "
                f"(accepted: {', '.join(sorted(allowed))})",
            )
        if not keep_config:
            return {"class_name": name}
        config = value.get("config") or {}
        if not isinstance(config, dict):
            raise refuse(layer, f"{key}: {noun} {name} has a config that is not an object")
        kept = {}
        for arg, number in config.items():
            if arg not in allowed[name]:  # type: ignore[index]
                raise refuse(layer, f"{key}: {noun} {name} argument {arg!r} is not supported")
            if arg == "axis":
                kept[arg] = number if isinstance(number, int) else pair(-4, 4)(layer, key, number)
            else:
                kept[arg] = number_in(-1e6, 1e6)(layer, f"{key}.{arg}", number)
        return {"class_name": name, "config": kept}

    return check


initializer = builtin_object(INITIALIZERS, "initializer", keep_config=False)
regularizer = builtin_object(REGULARIZERS, "regularizer", keep_config=True)
constraint = builtin_object(CONSTRAINTS, "constraint", keep_config=True)
padding = choice("valid", "same")
channels_last = exactly("channels_last", "only channels_last images")
rate = number_in(0.0, 1.0)
seed = optional(integer(0, 2**63))


def data_format(layer: str, key: str, value: Any) -> None:
    if value not in (None, "channels_last"):
        raise refuse(layer, f"data_format {value!r}: only channels_last is supported")
    return None


def weights_of(*names: str) -> dict[str, Check]:
    """initializer/regularizer/constraint arguments for the named weights."""
    out: dict[str, Check] = {}
    for name in names:
        out[f"{name}_initializer"] = initializer
        out[f"{name}_regularizer"] = regularizer
        out[f"{name}_constraint"] = constraint
    return out


CONV_COMMON: dict[str, Check] = {
    "kernel_size": pair(1, 28),
    "strides": pair(1, 28),
    "padding": padding,
    "data_format": data_format,
    "dilation_rate": pair(1, 28),
    "activation": activation,
    "use_bias": flag,
    "activity_regularizer": regularizer,
}


def shape_list(layer: str, key: str, value: Any, allow_unknown: bool) -> list[int]:
    if not isinstance(value, (list, tuple)) or not 1 <= len(value) <= 3:
        raise refuse(layer, f"{key} {value!r}: expected 1-3 dimensions")
    low = -1 if allow_unknown else 1
    dims = [integer(low, 1 << 24)(layer, key, v) for v in value]
    if 0 in dims or dims.count(-1) > 1:
        raise refuse(layer, f"{key} {value!r}: not a shape")
    return dims


def bn_axis(layer: str, value: Any) -> int:
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    return integer(-1, 3)(layer, "axis", value)


def zero_padding(layer: str, value: Any) -> list[list[int]]:
    one = integer(0, 64)
    if isinstance(value, int):
        return [[one(layer, "padding", value)] * 2] * 2
    if isinstance(value, (list, tuple)) and len(value) == 2:
        if all(isinstance(v, int) for v in value):
            return [[one(layer, "padding", v)] * 2 for v in value]
        if all(isinstance(v, (list, tuple)) and len(v) == 2 for v in value):
            return [[one(layer, "padding", p) for p in v] for v in value]
    raise refuse(layer, f"padding {value!r}: expected an int, 2 ints or 2 pairs")
