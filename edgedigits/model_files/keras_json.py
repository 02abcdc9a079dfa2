"""A Keras model's architecture read as plain JSON, against an allowlist: nothing is imported.

Keras deserializes a config by importing the modules it names and calling what they hold
(tf_keras imported a ``.py`` from the working directory that way; a config naming ``os.system``
was resolved before any error), and its ``safe_mode`` has been bypassed again and again. So a
model file's config is only ever *data* here: :func:`parse_keras_config` reads the JSON that
Keras 3 and Keras 2 (tf_keras) write (a ``.keras`` file's ``config.json``, an ``.h5`` file's
``model_config``), accepts the layer classes and arguments in ``LAYERS`` and nothing else, and
returns an :class:`Architecture`: plain layer specs with their shapes inferred and their weight
shapes computed *before* anything is built. ``edgedigits.model_files.rebuild`` then builds it
with tf_keras' own constructors.

The same :class:`Architecture` is what an imported model's ``import.json`` stores, and it is
checked again (``Architecture.from_json``) every time it is read: a model folder handed over by
a colleague is a stranger's file too.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from edgedigits.errors import ModelFileError, first_line
from edgedigits.jsonfile import parse_bounded
from edgedigits.model_files.shapes import ShapeError, infer

# Limits, each with its reason. A file may claim anything; these bound what we build from it.
MAX_CONFIG_BYTES = 4 << 20  # a 100-layer config is ~100 KB; 4 MiB is generous
MAX_JSON_DEPTH = 40  # Keras nests ~8 deep (model > layers > layer > initializer > config)
MAX_LAYERS = 256  # digit classifiers have tens of layers
MAX_PARAMS = 20_000_000  # 80 MB of float32; the zoo's largest model has 1.2 M
MAX_ACTIVATION = 1 << 21  # elements per image in any layer output (28x28x2048 fits)
INPUT_SHAPES = ((784,), (28, 28), (28, 28, 1))  # what the data's 28x28 grayscale images fill
# What a value of a shape the checks did not foresee raises in them (``parse_keras_config``).
UNEXPECTED_SHAPE = (TypeError, KeyError, AttributeError, IndexError, ValueError, OverflowError)

# Keras' own modules, as Keras 3 and tf_keras write them into configs. A "module" outside this
# set is refused by name; nothing named here is imported either (we build with our own code).
KERAS_MODULES = frozenset(
    {
        "keras",
        "keras.layers",
        "keras.initializers",
        "keras.regularizers",
        "keras.constraints",
        "keras.models",
        "keras.src.models.functional",
        "keras.src.models.sequential",
        "keras.src.models.model",
        "tf_keras.src.engine.functional",
        "tf_keras.src.engine.sequential",
        "tf_keras.src.engine.training",
    }
)
MODEL_CLASSES = frozenset({"Sequential", "Functional", "Model"})
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


def _fail(layer: str, what: str) -> Refused:
    return Refused(f"layer {layer!r}: {what}")


def _plain(value: Any) -> Any:
    """A live layer's ``get_config()`` (fixes.py copies layers) may hold NumPy scalars or 0-d
    arrays where a file's JSON holds numbers."""
    return value.item() if getattr(value, "ndim", None) == 0 and hasattr(value, "item") else value


def _int(low: int, high: int) -> Check:
    def check(layer: str, key: str, value: Any) -> int:
        value = _plain(value)
        if (
            isinstance(value, bool)
            or not isinstance(value, numbers.Integral)
            or not (low <= value <= high)
        ):
            raise _fail(layer, f"{key} {value!r}: expected a whole number {low}-{high}")
        return int(value)

    return check


def _number(low: float, high: float, *, none: bool = False) -> Check:
    def check(layer: str, key: str, value: Any) -> float | None:
        if value is None and none:
            return None
        value = _plain(value)
        if (
            isinstance(value, bool)
            or not isinstance(value, numbers.Real)
            or not (low <= value <= high)
        ):
            raise _fail(layer, f"{key} {value!r}: expected a number {low:g} to {high:g}")
        return float(value)

    return check


def _flag(layer: str, key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise _fail(layer, f"{key} {value!r}: expected true or false")
    return value


def _pair(low: int, high: int) -> Check:
    """An int or a pair of ints (kernel_size, strides, pool_size), always returned as a pair."""
    one = _int(low, high)

    def check(layer: str, key: str, value: Any) -> list[int]:
        if isinstance(value, (list, tuple)) and len(value) == 2:
            return [one(layer, key, v) for v in value]
        return [one(layer, key, value)] * 2

    return check


def _optional(inner: Check) -> Check:
    def check(layer: str, key: str, value: Any) -> Any:
        return None if value is None else inner(layer, key, value)

    return check


def _choice(*options: Any) -> Check:
    def check(layer: str, key: str, value: Any) -> Any:
        if value not in options:
            raise _fail(layer, f"{key} {value!r}: supported: {', '.join(map(repr, options))}")
        return value

    return check


def _exactly(expected: Any, why: str) -> Check:
    """Accepted only at the value that changes nothing; dropped from what we build."""

    def check(layer: str, key: str, value: Any) -> None:
        if value != expected and not (expected is None and value in (None, 0, False)):
            raise _fail(layer, f"{key} {value!r}: not supported ({why})")
        return None

    return check


def _activation(layer: str, key: str, value: Any) -> str:
    if not isinstance(value, str) or value not in ACTIVATIONS:
        shown = value.get("class_name", value) if isinstance(value, dict) else value
        raise _fail(
            layer,
            f"activation {shown!r} is not a built-in activation by name "
            f"(accepted: {', '.join(sorted(ACTIVATIONS))})",
        )
    return value


def _builtin_object(
    allowed: dict[str, tuple[str, ...]] | frozenset[str], noun: str, keep_config: bool
) -> Check:
    """A serialized initializer, regularizer or constraint: an allowlisted class by name."""

    def check(layer: str, key: str, value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, str) and not keep_config and value in allowed:
            return {"class_name": value}
        if not isinstance(value, dict) or not isinstance(value.get("class_name"), str):
            raise _fail(layer, f"{key}: expected a built-in {noun} by class name")
        name = value["class_name"]
        if name not in allowed or value.get("registered_name") not in (None, name):
            raise _fail(
                layer,
                f"{key}: {noun} {name!r} is not a built-in one we accept "
                f"(accepted: {', '.join(sorted(allowed))})",
            )
        if not keep_config:
            return {"class_name": name}
        config = value.get("config") or {}
        if not isinstance(config, dict):
            raise _fail(layer, f"{key}: {noun} {name} has a config that is not an object")
        kept = {}
        for arg, number in config.items():
            if arg not in allowed[name]:  # type: ignore[index]
                raise _fail(layer, f"{key}: {noun} {name} argument {arg!r} is not supported")
            if arg == "axis":
                kept[arg] = number if isinstance(number, int) else _pair(-4, 4)(layer, key, number)
            else:
                kept[arg] = _number(-1e6, 1e6)(layer, f"{key}.{arg}", number)
        return {"class_name": name, "config": kept}

    return check


_initializer = _builtin_object(INITIALIZERS, "initializer", keep_config=False)
_regularizer = _builtin_object(REGULARIZERS, "regularizer", keep_config=True)
_constraint = _builtin_object(CONSTRAINTS, "constraint", keep_config=True)
_padding = _choice("valid", "same")
_channels_last = _exactly("channels_last", "only channels_last images")
_rate = _number(0.0, 1.0)
_seed = _optional(_int(0, 2**63))


def _data_format(layer: str, key: str, value: Any) -> None:
    if value not in (None, "channels_last"):
        raise _fail(layer, f"data_format {value!r}: only channels_last is supported")
    return None


def _weights_of(*names: str) -> dict[str, Check]:
    """initializer/regularizer/constraint arguments for the named weights."""
    out: dict[str, Check] = {}
    for name in names:
        out[f"{name}_initializer"] = _initializer
        out[f"{name}_regularizer"] = _regularizer
        out[f"{name}_constraint"] = _constraint
    return out


_CONV_COMMON: dict[str, Check] = {
    "kernel_size": _pair(1, 28),
    "strides": _pair(1, 28),
    "padding": _padding,
    "data_format": _data_format,
    "dilation_rate": _pair(1, 28),
    "activation": _activation,
    "use_bias": _flag,
    "activity_regularizer": _regularizer,
}


@dataclass(frozen=True)
class LayerRule:
    """What one allowlisted layer class accepts. ``args``: kept and passed to tf_keras (after the
    check); ``dropped``: accepted at a neutral value, not passed on."""

    args: dict[str, Check]
    dropped: dict[str, Check] = field(default_factory=dict)
    defaults: dict[str, Any] = field(default_factory=dict)  # args a file may leave out


_POOL = LayerRule(
    {
        "pool_size": _pair(1, 28),
        "strides": _optional(_pair(1, 28)),
        "padding": _padding,
        "data_format": _data_format,
    }
)
_GLOBAL_POOL = LayerRule(
    {"data_format": _data_format, "keepdims": _flag}, defaults={"keepdims": False}
)

LAYERS: dict[str, LayerRule] = {
    "Dense": LayerRule(
        {
            "units": _int(1, 1 << 16),
            "activation": _activation,
            "use_bias": _flag,
            "activity_regularizer": _regularizer,
            **_weights_of("kernel", "bias"),
        },
        dropped={
            "quantization_config": _exactly(None, "a quantized Keras 3 layer"),
            "lora_rank": _exactly(None, "LoRA"),
            "lora_alpha": _exactly(None, "LoRA"),
        },
        defaults={"activation": "linear", "use_bias": True},
    ),
    "Conv2D": LayerRule(
        {
            "filters": _int(1, 4096),
            "groups": _int(1, 4096),
            **_CONV_COMMON,
            **_weights_of("kernel", "bias"),
        },
        defaults={"activation": "linear", "use_bias": True, "groups": 1},
    ),
    "DepthwiseConv2D": LayerRule(
        {"depth_multiplier": _int(1, 64), **_CONV_COMMON, **_weights_of("depthwise", "bias")},
        dropped={"groups": _exactly(1, "grouped depthwise convolution")},
        defaults={"activation": "linear", "use_bias": True, "depth_multiplier": 1},
    ),
    "SeparableConv2D": LayerRule(
        {
            "filters": _int(1, 4096),
            "depth_multiplier": _int(1, 64),
            **_CONV_COMMON,
            **_weights_of("depthwise", "pointwise", "bias"),
        },
        # tf_keras writes its unused Conv base's kernel_* and groups too
        dropped={
            "groups": _exactly(1, "grouped separable convolution"),
            **{k: lambda layer, key, v: None for k in _weights_of("kernel")},
        },
        defaults={"activation": "linear", "use_bias": True, "depth_multiplier": 1},
    ),
    "MaxPooling2D": _POOL,
    "AveragePooling2D": _POOL,
    "GlobalAveragePooling2D": _GLOBAL_POOL,
    "GlobalMaxPooling2D": _GLOBAL_POOL,
    "Flatten": LayerRule({"data_format": _data_format}),
    "Reshape": LayerRule({"target_shape": lambda layer, key, v: _shape(layer, key, v, True)}),
    "Dropout": LayerRule(
        {"rate": _rate, "seed": _seed}, dropped={"noise_shape": _exactly(None, "a noise shape")}
    ),
    "SpatialDropout2D": LayerRule(
        {"rate": _rate, "seed": _seed},
        dropped={"data_format": _data_format, "noise_shape": _exactly(None, "a noise shape")},
    ),
    "BatchNormalization": LayerRule(
        {
            "axis": lambda layer, key, v: _bn_axis(layer, v),
            "momentum": _number(0.0, 1.0),
            "epsilon": _number(0.0, 1.0),
            "center": _flag,
            "scale": _flag,
            "moving_mean_initializer": _initializer,
            "moving_variance_initializer": _initializer,
            **_weights_of("beta", "gamma"),
        },
        dropped={
            "synchronized": lambda layer, key, v: _flag(layer, key, v) and None,
            "renorm": _exactly(False, "batch renormalization"),
            "renorm_clipping": _exactly(None, "batch renormalization"),
            "renorm_momentum": _number(0.0, 1.0),
            "fused": lambda layer, key, v: None,
        },
        defaults={"center": True, "scale": True, "axis": -1},
    ),
    "Activation": LayerRule({"activation": _activation}),
    "ReLU": LayerRule(
        {
            "max_value": _number(0.0, 1e9, none=True),
            "negative_slope": _number(0.0, 1.0),
            "threshold": _number(-1e9, 1e9),
        }
    ),
    "Softmax": LayerRule({"axis": _choice(-1, [-1])}),
    "Rescaling": LayerRule(
        {"scale": _number(-1e9, 1e9), "offset": _number(-1e9, 1e9)}, defaults={"offset": 0.0}
    ),
    "ZeroPadding2D": LayerRule(
        {"padding": lambda layer, key, v: _zero_padding(layer, v), "data_format": _data_format}
    ),
    "Add": LayerRule({}),
    "Concatenate": LayerRule({"axis": _int(-4, 4)}, defaults={"axis": -1}),
}
MERGE_LAYERS = frozenset({"Add", "Concatenate"})


def _shape(layer: str, key: str, value: Any, allow_unknown: bool) -> list[int]:
    if not isinstance(value, (list, tuple)) or not 1 <= len(value) <= 3:
        raise _fail(layer, f"{key} {value!r}: expected 1-3 dimensions")
    low = -1 if allow_unknown else 1
    dims = [_int(low, 1 << 24)(layer, key, v) for v in value]
    if 0 in dims or dims.count(-1) > 1:
        raise _fail(layer, f"{key} {value!r}: not a shape")
    return dims


def _bn_axis(layer: str, value: Any) -> int:
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    return _int(-1, 3)(layer, "axis", value)


def _zero_padding(layer: str, value: Any) -> list[list[int]]:
    one = _int(0, 64)
    if isinstance(value, int):
        return [[one(layer, "padding", value)] * 2] * 2
    if isinstance(value, (list, tuple)) and len(value) == 2:
        if all(isinstance(v, int) for v in value):
            return [[one(layer, "padding", v)] * 2 for v in value]
        if all(isinstance(v, (list, tuple)) and len(v) == 2 for v in value):
            return [[one(layer, "padding", p) for p in v] for v in value]
    raise _fail(layer, f"padding {value!r}: expected an int, 2 ints or 2 pairs")


def snake_case(name: str) -> str:
    """Keras' ``to_snake_case`` (both versions): the weights file's key for a layer class."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


# -- the architecture ----------------------------------------------------------------------------

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
            return _assemble(
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


def parse_keras_config(text: str | bytes, where: str) -> Architecture:
    """A Keras 3 or tf_keras model config (JSON text) -> an allowlisted :class:`Architecture`.

    Refusals name ``where`` (the file) and the layer: a Lambda, a custom or unknown class, a
    module outside Keras, a dtype other than float32, an unknown argument, an unsupported input
    or output, too many weights. Nothing named in the file is imported or called.
    """
    config = load_json(text, where)
    try:
        return _from_keras(config)
    except Refused as exc:
        raise Refused(f"{where}: {exc}") from None
    except UNEXPECTED_SHAPE as exc:
        # The checks above test each value's type before using it; a structure they did not
        # foresee (a list where a name belongs, tested for membership in a set) still ends here,
        # at the boundary that reads the file, as the one line it is: a config we cannot read.
        raise Refused(
            f"{where}: a config of an unexpected structure ({type(exc).__name__}: "
            f"{first_line(exc, 100)})"
        ) from None


def load_json(text: str | bytes, where: str, limit: int = MAX_CONFIG_BYTES) -> Any:
    """JSON bounded in size and depth (a deeply nested file is refused, never a RecursionError)."""
    if len(text) > limit:
        raise ModelFileError(f"{where}: {len(text):,} bytes of JSON, over the {limit:,}-byte limit")
    return parse_bounded(text, lambda why: ModelFileError(f"{where}: {why}"), MAX_JSON_DEPTH)


def _modules(doc: Any) -> list[str]:
    """Every ``module`` a config names, anywhere in it."""
    found: list[str] = []
    if isinstance(doc, dict):
        if "module" in doc:
            found.append(doc["module"] if isinstance(doc["module"], str) else repr(doc["module"]))
        for value in doc.values():
            found += _modules(value)
    elif isinstance(doc, list):
        for value in doc:
            found += _modules(value)
    return found


def _from_keras(config: Any) -> Architecture:
    if not isinstance(config, dict) or not isinstance(config.get("config"), dict):
        raise Refused(
            "not a Keras model config (expected an object with 'class_name' and 'config')"
        )
    model_class = config.get("class_name")
    if model_class not in MODEL_CLASSES:
        raise Refused(
            f"the model is a {model_class!r}; only Sequential and Functional models "
            "of built-in layers are supported (a subclassed model is code, not data)"
        )
    body = config["config"]
    # The model's own header and everything but its layers (checked one by one below); the
    # compile config beside it (optimizer, loss) is never read.
    _check_object_header(
        {k: v for k, v in config.items() if k != "config"}
        | {"body": {k: v for k, v in body.items() if k != "layers"}},
        "the model",
    )
    items = body.get("layers")
    if not isinstance(items, list) or not items:
        raise Refused("the model config has no layer list")
    if len(items) > MAX_LAYERS:
        raise Refused(f"{len(items)} layers, over the limit of {MAX_LAYERS}")
    if model_class == "Sequential":
        return _sequential(body, items)
    return _functional(body, items)


def _check_object_header(item: dict[str, Any], what: str) -> None:
    """The module and registered name of a serialized object: Keras' own, or refused."""
    for module in _modules({k: v for k, v in item.items() if k != "compile_config"}):
        if module not in KERAS_MODULES:
            raise Refused(
                f"{what} names module {module!r}: only Keras' own objects are "
                "accepted (nothing a file names is ever imported)"
            )
    registered = item.get("registered_name")
    if registered not in (None, item.get("class_name")):
        raise Refused(
            f"{what} is a custom object ({registered!r}): custom layers are code, not "
            "data, and are not imported"
        )


def _layer_item(item: Any, k: int) -> tuple[str, str, dict[str, Any]]:
    if not isinstance(item, dict) or not isinstance(item.get("config"), dict):
        raise Refused(f"layer {k} is not a layer config")
    config = item["config"]
    name = config.get("name", item.get("name"))
    if not isinstance(name, str) or not _NAME.match(name):
        raise Refused(f"layer {k} has no usable name ({name!r})")
    class_name = item.get("class_name")
    what = f"layer {name!r}"
    if not isinstance(class_name, str):
        raise Refused(f"{what} has no class name")
    if class_name not in LAYERS and class_name != "InputLayer":
        hint = (
            " (a Lambda layer is code: rewrite it as built-in layers)"
            if class_name == "Lambda"
            else ""
        )
        raise Refused(
            f"{what} is a {class_name}, which edgedigits does not import{hint}; "
            f"supported: InputLayer, {', '.join(LAYERS)}"
        )
    _check_object_header(item, what)
    return class_name, name, config


def _input_shape(name: str, config: dict[str, Any]) -> list[int]:
    shape = config.get("batch_shape", config.get("batch_input_shape"))
    if shape is None and config.get("shape") is not None:
        shape = [None, *config["shape"]]
    if not isinstance(shape, list) or not shape or shape[0] is not None:
        raise Refused(
            f"input {name!r}: input shape {shape!r} is not (batch, ...) with a free batch"
        )
    dims = shape[1:]
    if tuple(dims) not in INPUT_SHAPES:
        raise Refused(
            f"input {name!r} takes {tuple(dims)}; supported inputs are 28x28 "
            f"grayscale images as {', '.join(map(str, INPUT_SHAPES))}"
        )
    _check_dtype(name, config.get("dtype", "float32"))
    return dims


def _check_dtype(layer: str, dtype: Any) -> None:
    policy = dtype
    if isinstance(dtype, dict):
        if dtype.get("class_name") not in ("DTypePolicy", "Policy", "FloatDTypePolicy"):
            raise _fail(layer, f"dtype {dtype.get('class_name')!r} is not a dtype policy")
        config = dtype.get("config")
        if config is not None and not isinstance(config, dict):
            raise _fail(layer, "dtype policy's config is not a JSON object")
        policy = (config or {}).get("name")
    if policy not in (None, "float32"):
        raise _fail(layer, f"dtype policy {policy!r}: only float32 models are supported")


def _sequential(body: dict[str, Any], items: list[Any]) -> Architecture:
    layers: list[tuple[str, str, dict[str, Any], tuple[str, ...]]] = []
    input_name, input_shape = "input", None
    previous = None
    for k, item in enumerate(items):
        class_name, name, config = _layer_item(item, k)
        if class_name == "InputLayer":
            if k != 0:
                raise Refused(f"input {name!r} is not the first layer")
            input_name, input_shape = name, _input_shape(name, config)
            previous = name
            continue
        if input_shape is None:  # Keras 2 style: Dense(..., input_shape=...) on the first layer
            shape = config.get("batch_input_shape", body.get("build_input_shape"))
            input_shape = _input_shape(name, {"batch_shape": shape})
            previous = input_name
        layers.append((class_name, name, config, (previous,)))
        previous = name
    if input_shape is None:
        raise Refused("the model has no input shape")
    return _assemble(
        body.get("name", "model"), input_name, input_shape, layers, previous, checked=True
    )


def _functional(body: dict[str, Any], items: list[Any]) -> Architecture:
    inputs, outputs = (
        _endpoints(body.get("input_layers"), "inputs"),
        _endpoints(body.get("output_layers"), "outputs"),
    )
    layers: list[tuple[str, str, dict[str, Any], tuple[str, ...]]] = []
    input_name, input_shape = inputs[0], None
    for k, item in enumerate(items):
        class_name, name, config = _layer_item(item, k)
        if class_name == "InputLayer":
            if name != input_name:
                raise Refused(f"input {name!r} is not the model's input")
            input_shape = _input_shape(name, config)
            continue
        layers.append((class_name, name, config, _inbound(name, item.get("inbound_nodes"))))
    if input_shape is None:
        raise Refused(f"the model's input {input_name!r} has no InputLayer")
    return _assemble(
        body.get("name", "model"), input_name, input_shape, layers, outputs[0], checked=True
    )


def _endpoints(value: Any, what: str) -> list[str]:
    """``[["dense", 0, 0]]`` (tf_keras) or ``["dense", 0, 0]`` (Keras 3, one tensor)."""
    if isinstance(value, list) and len(value) == 3 and isinstance(value[0], str):
        value = [value]
    if not isinstance(value, list) or not value:
        raise Refused(f"the model config lists no {what}")
    if len(value) != 1:
        raise Refused(
            f"the model has {len(value)} {what}; only single-input, single-output "
            "classifiers are supported"
        )
    entry = value[0]
    if not (
        isinstance(entry, list)
        and entry
        and isinstance(entry[0], str)
        and list(entry[1:3]) == [0, 0]
    ):
        raise Refused(f"the model's {what} entry {entry!r} is not a layer's first output")
    return [entry[0]]


def _inbound(name: str, nodes: Any) -> tuple[str, ...]:
    """The layers feeding ``name``: one call of the layer, by either Keras' node format."""
    if not isinstance(nodes, list) or len(nodes) != 1:
        raise _fail(
            name,
            f"called {len(nodes) if isinstance(nodes, list) else '?'} times; "
            "only layers called once are supported (no shared layers)",
        )
    node = nodes[0]
    sources: list[Any]
    if isinstance(node, dict):  # Keras 3: {"args": [tensor or [tensors]], "kwargs": {}}
        args, kwargs = node.get("args"), node.get("kwargs") or {}
        if not isinstance(args, list) or len(args) != 1 or not isinstance(kwargs, dict):
            raise _fail(name, "has a call with other than one argument")
        # Keras 3 records a Dropout's call as training=False/None: inference ignores it anyway.
        if (
            set(kwargs) - {"training", "mask"}
            or kwargs.get("mask") is not None
            or (kwargs.get("training") not in (None, True, False))
        ):
            raise _fail(name, f"is called with keyword arguments {sorted(kwargs)}")
        first = args[0]
        tensors = first if isinstance(first, list) else [first]
        sources = []
        for tensor in tensors:
            history = (
                tensor["config"].get("keras_history")
                if isinstance(tensor, dict)
                and tensor.get("class_name") == "__keras_tensor__"
                and isinstance(tensor.get("config"), dict)
                else None
            )
            if not (isinstance(history, list) and len(history) == 3):
                raise _fail(name, "has an input that is not a layer's output")
            sources.append(history)
    elif isinstance(node, list):  # tf_keras: [["layer", node, tensor, {kwargs}], ...]
        sources = node
    else:
        raise _fail(name, "has an unreadable inbound node")
    names = []
    for source in sources:
        if not (
            isinstance(source, list)
            and len(source) >= 3
            and isinstance(source[0], str)
            and list(source[1:3]) == [0, 0]
        ):
            raise _fail(name, f"input {source!r} is not another layer's first output")
        if len(source) > 3 and source[3] not in ({}, None):
            raise _fail(name, f"is called with keyword arguments {source[3]!r}")
        names.append(source[0])
    return tuple(names)


def _assemble(
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
        if not isinstance(value, str) or not _NAME.match(value):
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
            or not _NAME.match(name)
            or name in specs
            or (name == input_name)
        ):
            raise Refused(f"layer name {name!r} is unusable or used twice")
        if class_name not in LAYERS:
            raise Refused(f"layer {name!r} is a {class_name!r}, which is not supported")
        args = _layer_args(class_name, name, config, from_keras=checked)
        specs[name] = LayerSpec(class_name, name, args, tuple(inbound))
    ordered = _topological(specs, input_name, output)
    shapes: dict[str, tuple[int, ...]] = {input_name: shape}
    weights: dict[str, list[tuple[int, ...]]] = {}
    total = 0
    for layer in ordered:
        ins = [shapes[n] for n in layer.inbound]
        try:
            shapes[layer.name], weights[layer.name] = infer(layer.class_name, layer.args, ins)
        except ShapeError as exc:
            raise _fail(layer.name, str(exc)) from None
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


def layer_spec(class_name: str, config: dict[str, Any]) -> LayerSpec:
    """One layer's Keras config (a built layer's ``get_config()``) as a checked spec, for code
    that copies a layer: the allowlist instead of Keras' ``from_config``."""
    name = config.get("name")
    if class_name not in LAYERS or not valid_name(name):
        raise Refused(f"layer {name!r}: a {class_name} cannot be copied (not allowlisted)")
    return LayerSpec(class_name, name, _layer_args(class_name, name, config, from_keras=True), ())


def _layer_args(
    class_name: str, name: str, config: dict[str, Any], from_keras: bool
) -> dict[str, Any]:
    rule = LAYERS[class_name]
    if not isinstance(config, dict):
        raise _fail(name, "arguments are not an object")
    if from_keras:
        _check_dtype(name, config.get("dtype", "float32"))
        trainable = config.get("trainable", True)
        if not isinstance(trainable, bool):
            raise _fail(name, f"trainable {trainable!r}: expected true or false")
    args: dict[str, Any] = {}
    meta = LAYER_META | {"shared_object_id", "batch_input_shape", "batch_shape"}
    for key, value in config.items():
        if key in rule.args:
            args[key] = rule.args[key](name, key, value)
        elif from_keras and key in rule.dropped:
            rule.dropped[key](name, key, value)
        elif not (from_keras and key in meta):
            raise _fail(name, f"argument {key!r} of {class_name} is not supported")
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
        raise _fail(name, f"{class_name} without {', '.join(missing)}")
    return args


def _topological(specs: dict[str, LayerSpec], input_name: str, output: str) -> list[LayerSpec]:
    """Layers in an order where inputs come first; every layer must feed the output."""
    if output not in specs:
        raise Refused(f"the output {output!r} is not one of the layers")
    for layer in specs.values():
        for source in layer.inbound:
            if source != input_name and source not in specs:
                raise _fail(layer.name, f"takes input from unknown layer {source!r}")
        if layer.class_name in MERGE_LAYERS:
            if len(layer.inbound) < 2:
                raise _fail(layer.name, f"{layer.class_name} needs two or more inputs")
        elif len(layer.inbound) != 1:
            raise _fail(layer.name, f"takes {len(layer.inbound)} inputs, expected one")
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
