"""The layers a model file may hold, and each one's arguments: the allowlist, as data.

``keras_json`` walks a Keras config (its model, its layer list, its graph); this module says
what one layer may be. ``LAYERS`` maps each accepted class to a :class:`LayerRule`: the
arguments it takes, each with a checker that returns the value to build with (or refuses, naming
the layer), the arguments Keras writes that change nothing we build, and the defaults.
:func:`layer_spec` checks one layer's config against it; nothing named in a config is ever
imported or called. Adding a layer class is one entry in ``LAYERS`` (and its shape rule in
``shapes.py``, its constructor in ``rebuild.py``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from edgedigits.model_files import keras_args as arg
from edgedigits.model_files.keras_args import LAYER_META, Check, Refused, refuse


@dataclass(frozen=True)
class LayerRule:
    """What one allowlisted layer class accepts. ``args``: kept and passed to tf_keras (after the
    check); ``dropped``: accepted at a neutral value, not passed on."""

    args: dict[str, Check]
    dropped: dict[str, Check] = field(default_factory=dict)
    defaults: dict[str, Any] = field(default_factory=dict)  # args a file may leave out


_POOL = LayerRule(
    {
        "pool_size": arg.pair(1, 28),
        "strides": arg.optional(arg.pair(1, 28)),
        "padding": arg.padding,
        "data_format": arg.data_format,
    }
)
_GLOBAL_POOL = LayerRule(
    {"data_format": arg.data_format, "keepdims": arg.flag}, defaults={"keepdims": False}
)

LAYERS: dict[str, LayerRule] = {
    "Dense": LayerRule(
        {
            "units": arg.integer(1, 1 << 16),
            "activation": arg.activation,
            "use_bias": arg.flag,
            "activity_regularizer": arg.regularizer,
            **arg.weights_of("kernel", "bias"),
        },
        dropped={
            "quantization_config": arg.exactly(None, "a quantized Keras 3 layer"),
            "lora_rank": arg.exactly(None, "LoRA"),
            "lora_alpha": arg.exactly(None, "LoRA"),
        },
        defaults={"activation": "linear", "use_bias": True},
    ),
    "Conv2D": LayerRule(
        {
            "filters": arg.integer(1, 4096),
            "groups": arg.integer(1, 4096),
            **arg.CONV_COMMON,
            **arg.weights_of("kernel", "bias"),
        },
        defaults={"activation": "linear", "use_bias": True, "groups": 1},
    ),
    "DepthwiseConv2D": LayerRule(
        {
            "depth_multiplier": arg.integer(1, 64),
            **arg.CONV_COMMON,
            **arg.weights_of("depthwise", "bias"),
        },
        dropped={"groups": arg.exactly(1, "grouped depthwise convolution")},
        defaults={"activation": "linear", "use_bias": True, "depth_multiplier": 1},
    ),
    "SeparableConv2D": LayerRule(
        {
            "filters": arg.integer(1, 4096),
            "depth_multiplier": arg.integer(1, 64),
            **arg.CONV_COMMON,
            **arg.weights_of("depthwise", "pointwise", "bias"),
        },
        # tf_keras writes its unused Conv base's kernel_* and groups too
        dropped={
            "groups": arg.exactly(1, "grouped separable convolution"),
            **{k: lambda layer, key, v: None for k in arg.weights_of("kernel")},
        },
        defaults={"activation": "linear", "use_bias": True, "depth_multiplier": 1},
    ),
    "MaxPooling2D": _POOL,
    "AveragePooling2D": _POOL,
    "GlobalAveragePooling2D": _GLOBAL_POOL,
    "GlobalMaxPooling2D": _GLOBAL_POOL,
    "Flatten": LayerRule({"data_format": arg.data_format}),
    "Reshape": LayerRule(
        {"target_shape": lambda layer, key, v: arg.shape_list(layer, key, v, True)}
    ),
    "Dropout": LayerRule(
        {"rate": arg.rate, "seed": arg.seed},
        dropped={"noise_shape": arg.exactly(None, "a noise shape")},
    ),
    "SpatialDropout2D": LayerRule(
        {"rate": arg.rate, "seed": arg.seed},
        dropped={"data_format": arg.data_format, "noise_shape": arg.exactly(None, "a noise shape")},
    ),
    "BatchNormalization": LayerRule(
        {
            "axis": lambda layer, key, v: arg.bn_axis(layer, v),
            "momentum": arg.number_in(0.0, 1.0),
            "epsilon": arg.number_in(0.0, 1.0),
            "center": arg.flag,
            "scale": arg.flag,
            "moving_mean_initializer": arg.initializer,
            "moving_variance_initializer": arg.initializer,
            **arg.weights_of("beta", "gamma"),
        },
        dropped={
            "synchronized": lambda layer, key, v: arg.flag(layer, key, v) and None,
            "renorm": arg.exactly(False, "batch renormalization"),
            "renorm_clipping": arg.exactly(None, "batch renormalization"),
            "renorm_momentum": arg.number_in(0.0, 1.0),
            "fused": lambda layer, key, v: None,
        },
        defaults={"center": True, "scale": True, "axis": -1},
    ),
    "Activation": LayerRule({"activation": arg.activation}),
    "ReLU": LayerRule(
        {
            "max_value": arg.number_in(0.0, 1e9, none=True),
            "negative_slope": arg.number_in(0.0, 1.0),
            "threshold": arg.number_in(-1e9, 1e9),
        }
    ),
    "Softmax": LayerRule({"axis": arg.choice(-1, [-1])}),
    "Rescaling": LayerRule(
        {"scale": arg.number_in(-1e9, 1e9), "offset": arg.number_in(-1e9, 1e9)},
        defaults={"offset": 0.0},
    ),
    "ZeroPadding2D": LayerRule(
        {
            "padding": lambda layer, key, v: arg.zero_padding(layer, v),
            "data_format": arg.data_format,
        }
    ),
    "Add": LayerRule({}),
    "Concatenate": LayerRule({"axis": arg.integer(-4, 4)}, defaults={"axis": -1}),
}
MERGE_LAYERS = frozenset({"Add", "Concatenate"})


def snake_case(name: str) -> str:
    """Keras' ``to_snake_case`` (both versions): the weights file's key for a layer class."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


# -- a layer as data -----------------------------------------------------------------------------


_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,127}$")


def valid_name(name: Any) -> bool:
    """A layer or model name we accept from a file: short, plain characters."""
    return isinstance(name, str) and bool(_NAME.match(name))


@dataclass(frozen=True)
class LayerSpec:
    """One layer: its class, name, the tf_keras constructor arguments, and what feeds it."""

    class_name: str
    name: str
    args: dict[str, Any]
    inbound: tuple[str, ...]  # layer names (the input's name for the first layer)

    def to_json(self) -> dict[str, Any]:
        return {
            "class_name": self.class_name,
            "name": self.name,
            "args": self.args,
            "inbound": list(self.inbound),
        }


def check_dtype(layer: str, dtype: Any) -> None:
    policy = dtype
    if isinstance(dtype, dict):
        if dtype.get("class_name") not in ("DTypePolicy", "Policy", "FloatDTypePolicy"):
            raise refuse(layer, f"dtype {dtype.get('class_name')!r} is not a dtype policy")
        config = dtype.get("config")
        if config is not None and not isinstance(config, dict):
            raise refuse(layer, "dtype policy's config is not a JSON object")
        policy = (config or {}).get("name")
    if policy not in (None, "float32"):
        raise refuse(layer, f"dtype policy {policy!r}: only float32 models are supported")


def layer_spec(class_name: str, config: dict[str, Any]) -> LayerSpec:
    """One layer's Keras config (a built layer's ``get_config()``) as a checked spec, for code
    that copies a layer: the allowlist instead of Keras' ``from_config``."""
    name = config.get("name")
    if class_name not in LAYERS or not valid_name(name):
        raise Refused(f"layer {name!r}: a {class_name} cannot be copied (not allowlisted)")
    return LayerSpec(class_name, name, layer_args(class_name, name, config, from_keras=True), ())


def layer_args(
    class_name: str, name: str, config: dict[str, Any], from_keras: bool
) -> dict[str, Any]:
    rule = LAYERS[class_name]
    if not isinstance(config, dict):
        raise refuse(name, "arguments are not an object")
    if from_keras:
        check_dtype(name, config.get("dtype", "float32"))
        trainable = config.get("trainable", True)
        if not isinstance(trainable, bool):
            raise refuse(name, f"trainable {trainable!r}: expected true or false")
    args: dict[str, Any] = {}
    meta = LAYER_META | {"shared_object_id", "batch_input_shape", "batch_shape"}
    for key, value in config.items():
        if key in rule.args:
            args[key] = rule.args[key](name, key, value)
        elif from_keras and key in rule.dropped:
            rule.dropped[key](name, key, value)
        elif not (from_keras and key in meta):
            raise refuse(name, f"argument {key!r} of {class_name} is not supported")
    for key, value in rule.defaults.items():
        args.setdefault(key, value)
    missing = [
        k
        for k in rule.args
        if k not in args
        and not k.endswith(("_initializer", "_regularizer", "_constraint"))
        and k
        not in (
            "data_format",
            "seed",
            "strides",
            "dilation_rate",
            "padding",
            "max_value",
            "negative_slope",
            "threshold",
            "momentum",
            "epsilon",
        )
    ]
    if missing:
        raise refuse(name, f"{class_name} without {', '.join(missing)}")
    return args
