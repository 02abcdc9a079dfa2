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

from typing import Any

from edgedigits.errors import ModelFileError, first_line
from edgedigits.jsonfile import parse_bounded
from edgedigits.model_files.architecture import INPUT_SHAPES, MAX_LAYERS, Architecture, assemble
from edgedigits.model_files.keras_layers import (
    LAYERS,
    Refused,
    check_dtype,
    refuse,
    valid_name,
)

# Limits, each with its reason. A file may claim anything; these bound what we build from it.
MAX_CONFIG_BYTES = 4 << 20  # a 100-layer config is ~100 KB; 4 MiB is generous
MAX_JSON_DEPTH = 40  # Keras nests ~8 deep (model > layers > layer > initializer > config)
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
    if not isinstance(name, str) or not valid_name(name):
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
    check_dtype(name, config.get("dtype", "float32"))
    return dims


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
    return assemble(
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
    return assemble(
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
        raise refuse(
            name,
            f"called {len(nodes) if isinstance(nodes, list) else '?'} times; "
            "only layers called once are supported (no shared layers)",
        )
    node = nodes[0]
    sources: list[Any]
    if isinstance(node, dict):  # Keras 3: {"args": [tensor or [tensors]], "kwargs": {}}
        args, kwargs = node.get("args"), node.get("kwargs") or {}
        if not isinstance(args, list) or len(args) != 1 or not isinstance(kwargs, dict):
            raise refuse(name, "has a call with other than one argument")
        # Keras 3 records a Dropout's call as training=False/None: inference ignores it anyway.
        if (
            set(kwargs) - {"training", "mask"}
            or kwargs.get("mask") is not None
            or (kwargs.get("training") not in (None, True, False))
        ):
            raise refuse(name, f"is called with keyword arguments {sorted(kwargs)}")
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
                raise refuse(name, "has an input that is not a layer's output")
            sources.append(history)
    elif isinstance(node, list):  # tf_keras: [["layer", node, tensor, {kwargs}], ...]
        sources = node
    else:
        raise refuse(name, "has an unreadable inbound node")
    names = []
    for source in sources:
        if not (
            isinstance(source, list)
            and len(source) >= 3
            and isinstance(source[0], str)
            and list(source[1:3]) == [0, 0]
        ):
            raise refuse(name, f"input {source!r} is not another layer's first output")
        if len(source) > 3 and source[3] not in ({}, None):
            raise refuse(name, f"is called with keyword arguments {source[3]!r}")
        names.append(source[0])
    return tuple(names)
