"""Deployment targets: the files each kind of app can load, so ``--target`` picks them.

A target is where an app runs the model (a web page, a phone, a microcontroller, a server) and
so which runtime loads the file. Each runtime accepts only some files, as measured in it:

- **LiteRT.js** (web) refuses a dynamic batch dimension (it has no resize: every call fails on a
  ``[-1, 28, 28, 1]`` input) and int8 input/output tensors (``Element type INT8 is not
  supported``), so web files have a fixed batch of 1 and full-integer recipes keep float32 I/O
  (quantize and dequantize inside the file: bit-exact with the int8-I/O file's integer core).
- **LiteRT** on a phone takes any of them; float32 I/O keeps the app's code the same for every
  recipe (the quantize step runs inside the file), and batch 1 is what a camera or canvas gives.
- **TensorFlow Lite Micro** wants int8 I/O (the sensor's bytes in, no float library needed) and a
  fixed batch of 1; its files are C arrays compiled into the firmware.
- **Servers** batch requests: ONNX with a dynamic batch, in ONNX Runtime (or OpenVINO).

``--io`` and ``--batch`` override a target's conventions; every choice is recorded in the
manifest (``io``, ``batch``, ``targets`` per artifact).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from edgedigits.contract.recipes import Format, Recipe
from edgedigits.errors import UnknownNameError, UsageError
from edgedigits.names import split_names


class Target(str, Enum):
    WEB = "web"
    MOBILE = "mobile"
    MCU = "mcu"
    SERVER = "server"


class IO(str, Enum):
    """The input and output tensor type of a full-integer (int8 core) TFLite file."""

    INT8 = "int8"
    UINT8 = "uint8"
    FLOAT32 = "float32"


# Full-integer recipes: their integer core can be wrapped in any I/O type. Every other recipe has
# float32 I/O, and --io does not apply to it.
INTEGER_IO_RECIPES = (Recipe.INT8, Recipe.QAT, Recipe.INT8_FIXED, Recipe.INT8_MIXED)
DEFAULT_IO = IO.INT8  # what 'export --quant int8' has always written
DEFAULT_TFLITE_BATCH = 1  # LiteRT.js and TFLM need it; a phone calls with one image


@dataclass(frozen=True)
class Variant:
    """How one recipe's TFLite bytes are shaped: I/O type and batch (None: dynamic)."""

    io: IO = DEFAULT_IO
    batch: int | None = DEFAULT_TFLITE_BATCH

    def for_recipe(self, recipe: Recipe) -> Variant:
        """The variant as it applies to ``recipe`` (float I/O recipes ignore ``io``)."""
        return self if recipe in INTEGER_IO_RECIPES else Variant(IO.FLOAT32, self.batch)

    def tags(self, recipe: Recipe) -> list[str]:
        """Name parts that set a file apart from the default variant of its recipe."""
        default = Variant().for_recipe(recipe)
        mine = self.for_recipe(recipe)
        tags = [] if mine.io == default.io else [f"io-{mine.io.value}"]
        if mine.batch != default.batch:
            tags.append("batch-dynamic" if mine.batch is None else f"batch-{mine.batch}")
        return tags


@dataclass(frozen=True)
class TargetInfo:
    summary: str
    app_runtimes: str  # what the app ships, in words
    formats: tuple[Format, ...]
    recipes: tuple[Recipe, ...]
    variant: Variant  # the I/O and batch its TFLite files (and C arrays) are written with


_FLOAT_AND_QUANT = (
    Recipe.FLOAT32,
    Recipe.FLOAT16,
    Recipe.DYNAMIC,
    Recipe.INT8,
    Recipe.INT16X8,
    Recipe.QAT,
    Recipe.PRUNED,
    Recipe.CLUSTERED,
)

TARGETS: dict[Target, TargetInfo] = {
    Target.WEB: TargetInfo(
        "a web page",
        "LiteRT.js (@litertjs/core) for .tflite, ONNX Runtime Web for .onnx",
        (Format.TFLITE, Format.ONNX),
        _FLOAT_AND_QUANT,
        Variant(IO.FLOAT32, 1),
    ),
    Target.MOBILE: TargetInfo(
        "an Android or iOS app",
        "LiteRT for .tflite, ONNX Runtime Mobile for .ort",
        (Format.TFLITE, Format.ORT),
        _FLOAT_AND_QUANT,
        Variant(IO.FLOAT32, 1),
    ),
    Target.MCU: TargetInfo(
        "a microcontroller",
        "TensorFlow Lite Micro, the model compiled in as a C array",
        (Format.C,),
        (Recipe.INT8, Recipe.QAT),
        Variant(IO.INT8, 1),
    ),
    Target.SERVER: TargetInfo(
        "a server",
        "ONNX Runtime (or OpenVINO) with batched requests",
        (Format.ONNX,),
        (Recipe.FLOAT32, Recipe.DYNAMIC, Recipe.INT8),
        Variant(IO.FLOAT32, None),
    ),
}


def parse_targets(values: str | list[str] | tuple[str, ...] | None) -> list[Target]:
    """``"web,mcu"`` / ``["all"]`` -> targets; an unknown one lists the valid choices."""
    names = split_names(values or [])
    if "all" in names:
        return list(Target)
    out = []
    for name in names:
        try:
            out.append(Target(name))
        except ValueError:
            raise UnknownNameError(
                f"--target {name}: unknown target; choose from "
                f"{', '.join(t.value for t in Target)}, all"
            ) from None
    return list(dict.fromkeys(out))


def parse_io(value: str | None) -> IO | None:
    if value is None:
        return None
    try:
        return IO(value)
    except ValueError:
        raise UsageError(f"--io {value}: choose from {', '.join(i.value for i in IO)}") from None


def parse_batch(value: str | int | None) -> int | None | str:
    """``--batch``: ``"dynamic"`` -> None, ``"1"``/``"8"`` -> an int; ``None`` stays unset
    (returned as the string ``"unset"`` so a caller can tell it from dynamic)."""
    if value is None:
        return "unset"
    if isinstance(value, str) and value.strip().lower() == "dynamic":
        return None
    try:
        batch = int(value)
    except (TypeError, ValueError):
        raise UsageError(
            f"--batch {value}: a whole number of images (1 or more) or 'dynamic'"
        ) from None
    if batch < 1:
        raise UsageError(f"--batch {value}: must be at least 1, or 'dynamic'")
    return batch


def targets_for(fmt: Format, variant: Variant) -> list[Target]:
    """The targets whose runtime loads a file of this format and variant (as measured in each:
    see the module docstring). The web's ONNX choice is ``.onnx``: ONNX Runtime Web loads
    ``.ort`` too, but those are larger and not faster there."""
    accepted = {
        Target.WEB: (
            fmt == Format.ONNX
            or fmt == Format.TFLITE
            and variant.batch == 1
            and variant.io != IO.INT8
        ),
        Target.MOBILE: fmt in (Format.TFLITE, Format.ORT),
        Target.MCU: fmt == Format.C,
        Target.SERVER: fmt == Format.ONNX,
    }
    return [t for t, ok in accepted.items() if ok]


_TAG = re.compile(r"^(io-(int8|uint8|float32)|batch-(dynamic|[1-9][0-9]{0,5}))$")


def is_variant_tag(tag: str) -> bool:
    """A name part ``Variant.tags`` writes (``io-float32``, ``batch-dynamic``, ``batch-8``)."""
    return bool(_TAG.match(tag))
