"""Formats and recipes: the enums behind ``--format`` and ``--quant``, and what each promises.

Like Hugging Face optimum's ``QuantizationApproach``: string enums whose values are the CLI's
choices, plus one table (``RECIPE_INFO``) with everything that varies per recipe: whether it
needs calibration data or fine-tuning, and the tolerance its artifacts promise. That tolerance is
the only one: export, bench, verify, doctor and the reports all read it from here.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import Enum
from typing import Any

from edgedigits.comparator import Tolerance
from edgedigits.errors import UnknownNameError
from edgedigits.names import split_names


class Format(str, Enum):
    TFLITE = "tflite"  # LiteRT flatbuffer, labels and preprocessing embedded as metadata
    ONNX = "onnx"  # tf2onnx graph, checked with onnx.checker
    C = "c"  # the TFLite flatbuffer as an aligned C array, for TensorFlow Lite Micro
    ORT = "ort"  # ONNX Runtime Mobile's flatbuffer of the ONNX graph (export/to_ort.py)


class Recipe(str, Enum):
    FLOAT32 = "float32"
    FLOAT16 = "float16"  # float16 weights, float32 compute on CPU
    DYNAMIC = "dynamic"  # int8 weights, activations quantized on the fly
    INT8 = "int8"  # full integer: int8 weights, activations, input and output
    INT16X8 = "int16x8"  # int16 activations, int8 weights; float32 input and output
    QAT = "qat"  # quantization-aware fine-tuning, then full-integer int8
    PRUNED = "pruned"  # magnitude pruning fine-tune, stripped, float32 flatbuffer
    CLUSTERED = "clustered"  # weight clustering fine-tune, stripped, float32 flatbuffer
    INT8_FIXED = "int8-fixed"  # int8 of the doctor's float-equivalent rewrite (BatchNorm folded)
    INT8_MIXED = "int8-mixed"  # int8 with the layers named by --keep-float left in float


# What a recipe's artifacts promise against the *trained* Keras model, on the test images they are
# judged on (export: its --verify-samples; bench: the test set). Export and bench read these same
# rows, so a file passes or fails the same way whichever command looks at it (tests/test_bench.py,
# test_export_and_bench_judge_an_artifact_the_same_way, runs both on the same files). Measured on
# the whole zoo (bench/results/bench_zoo.json and export_zoo.json):
# - float32 files match to ~5e-6, float16 weights move probabilities ~3e-3; the 0.2 points a
#   float file may lose are what its 0.2% of disagreements can cost (one image of 500);
# - integer recipes hold >= 98.86% agreement except seed001_optimized_cnn's int8 (96.2%, -3.2
#   points: BatchNormalization after an activation, the pitfall 'doctor' finds and int8-fixed
#   repairs), which these rows fail on purpose. Accuracy drops reach 0.6 points on 1,000 images
#   where the same file loses 0.2 on 10,000, hence 1 point;
# - fine-tuned recipes are new models: as low as 95.0% agreement with the trained model
#   (clustered seed004_mlp12), within half a point of its accuracy.
# max_abs_diff is judged for float recipes only; for integer ones it is the single worst image,
# and one ambiguous digit swings by 0.5 while predictions hold (reported, not judged).
REFERENCE_TOLERANCE = Tolerance(min_agreement=0.9999, max_accuracy_drop=0.01, max_abs_diff=1e-4)
_FLOAT32 = Tolerance(min_agreement=0.998, max_accuracy_drop=0.2, max_abs_diff=1e-4)
_FLOAT16 = replace(_FLOAT32, max_abs_diff=1e-2)
_INTEGER = Tolerance(min_agreement=0.98, max_accuracy_drop=1.0, max_abs_diff=None)
_FINETUNED = Tolerance(min_agreement=0.94, max_accuracy_drop=1.0, max_abs_diff=None)
# Pruning leaves a kernel dense below this many weights: half of a small kernel is capacity the
# layer needs. The zoo's 120-256-weight kernels lost 1-13 points at 50% sparsity; at 300,
# edge_cnn_micro's 432-weight c2 (54 weights per filter) cost it 0.38-0.42 points on the test set
# and 0.7-1.1 on the first 1,000 images (seeds 0 and 1), against 0.22-0.25 and 0.5-0.6 kept dense.
# 'doctor' warns (small-kernel) and export keeps dense by this same number.
PRUNE_MIN_KERNEL_WEIGHTS = 500
# golden_atol compares one artifact across runtimes and platforms, so it is tight: float kernels
# differ by rounding only, integer kernels by at most a quantum or two.
_FLOAT_GOLDEN, _INT8_GOLDEN = 1e-5, 1.5 / 256


@dataclass(frozen=True)
class RecipeInfo:
    """What a recipe needs and what its artifacts must satisfy."""

    integer: bool  # integer arithmetic
    calibrated: bool  # needs representative (training) data
    tolerance: Tolerance  # the promise against the trained Keras model (export and bench)
    golden_atol: float  # how far an app's run may drift from the golden output of *this* file
    summary: str
    # Fine-tuned recipes: the recipe whose tolerance the conversion of the *fine-tuned* Keras
    # model must also meet (export checks it; only export has that model). None: not fine-tuned.
    converts_as: Recipe | None = None

    @property
    def finetuned(self) -> bool:
        return self.converts_as is not None

    @property
    def family(self) -> str:
        """How ``--tolerances`` files group recipes: float, integer or finetuned."""
        return "finetuned" if self.finetuned else "integer" if self.integer else "float"


RECIPE_INFO: dict[Recipe, RecipeInfo] = {
    Recipe.FLOAT32: RecipeInfo(False, False, _FLOAT32, _FLOAT_GOLDEN, "float32"),
    Recipe.FLOAT16: RecipeInfo(
        False, False, _FLOAT16, _FLOAT_GOLDEN, "float16 weights (half the size)"
    ),
    Recipe.DYNAMIC: RecipeInfo(
        True, False, _INTEGER, 1e-2, "dynamic-range: int8 weights, float activations"
    ),
    Recipe.INT8: RecipeInfo(
        True, True, _INTEGER, _INT8_GOLDEN, "full integer int8, calibrated on training images"
    ),
    Recipe.INT8_FIXED: RecipeInfo(
        True,
        True,
        _INTEGER,
        _INT8_GOLDEN,
        "int8 of a float-equivalent rewrite: BatchNormalization after an activation folded forward",
    ),
    Recipe.INT8_MIXED: RecipeInfo(
        True,
        True,
        _INTEGER,
        _INT8_GOLDEN,
        "int8 with the --keep-float layers in float (quantize and "
        "dequantize around them); int8 input and output",
    ),
    Recipe.INT16X8: RecipeInfo(True, True, _INTEGER, 1e-3, "int16 activations, int8 weights"),
    Recipe.QAT: RecipeInfo(
        True,
        True,
        _FINETUNED,
        _INT8_GOLDEN,
        "quantization-aware fine-tune, then int8",
        converts_as=Recipe.INT8,
    ),
    Recipe.PRUNED: RecipeInfo(
        False,
        False,
        _FINETUNED,
        _FLOAT_GOLDEN,
        "magnitude-pruned fine-tune, float32",
        converts_as=Recipe.FLOAT32,
    ),
    Recipe.CLUSTERED: RecipeInfo(
        False,
        False,
        _FINETUNED,
        _FLOAT_GOLDEN,
        "weight-clustered fine-tune, float32",
        converts_as=Recipe.FLOAT32,
    ),
}


# Which recipes each format offers. C wraps the TFLite flatbuffer, for the recipes TFLM can run.
FORMAT_RECIPES: dict[Format, tuple[Recipe, ...]] = {
    Format.TFLITE: tuple(Recipe),
    # TensorFlow Lite Micro cannot run float16 weights (its DEQUANTIZE takes no float16) or
    # dynamic-range files (no hybrid kernels): measured with the tflite-micro interpreter.
    Format.C: tuple(r for r in Recipe if r not in (Recipe.FLOAT16, Recipe.DYNAMIC)),
    Format.ONNX: (
        Recipe.FLOAT32,
        Recipe.INT8,
        Recipe.DYNAMIC,
        Recipe.INT8_FIXED,
        Recipe.INT8_MIXED,
    ),
}
FORMAT_RECIPES[Format.ORT] = FORMAT_RECIPES[Format.ONNX]  # the ORT conversion of each .onnx
# Made only when asked for by name, or by 'export --auto-fix' when int8 fails parity: without
# the pitfall (or without --keep-float layers) they would duplicate int8.
EXPLICIT_ONLY = (Recipe.INT8_FIXED, Recipe.INT8_MIXED)


def parse_formats(values: str | list[str] | tuple[str, ...]) -> list[Format]:
    """``"tflite,onnx"`` / ``["all"]`` -> formats; an unknown one lists the valid choices."""
    names = split_names(values)
    if not names:
        raise UnknownNameError(
            f"--format: empty; choose from {', '.join(f.value for f in Format)}, all"
        )
    if "all" in names:
        return list(Format)
    out = []
    for name in names:
        try:
            out.append(Format(name))
        except ValueError:
            raise UnknownNameError(
                f"--format {name}: unknown format; choose from "
                f"{', '.join(f.value for f in Format)}, all"
            ) from None
    return list(dict.fromkeys(out))


def parse_recipes(values: str | list[str] | tuple[str, ...], formats: list[Format]) -> list[Recipe]:
    """Recipes for ``--quant``: each must apply to at least one of the chosen formats."""
    names = split_names(values)
    offered = [r for r in Recipe if any(r in FORMAT_RECIPES[f] for f in formats)]
    out = [r for r in offered if r not in EXPLICIT_ONLY] if not names or "all" in names else []
    for name in (n for n in names if n != "all"):
        try:
            recipe = Recipe(name)
        except ValueError:
            raise UnknownNameError(
                f"--quant {name}: unknown recipe; choose from "
                f"{', '.join(r.value for r in Recipe)}, all"
            ) from None
        if recipe not in offered:
            raise UnknownNameError(
                f"--quant {name}: not offered by --format {','.join(f.value for f in formats)};"
                f" those formats offer {', '.join(r.value for r in offered)}"
            )
        out.append(recipe)
    return list(dict.fromkeys(out))


@dataclass(frozen=True)
class FormatFiles:
    """The files one format writes: the artifact's suffix, the companions beside it, and whether
    a host runtime loads the artifact itself (a C array runs as its ``.tflite`` bytes)."""

    suffix: str
    companions: tuple[str, ...] = ()
    host_runnable: bool = True


# Declared once: verify, bench and export ask here, and keep no suffix lists of their own.
FORMAT_FILES: dict[Format, FormatFiles] = {
    Format.TFLITE: FormatFiles(".tflite"),
    Format.ONNX: FormatFiles(".onnx"),
    Format.C: FormatFiles(".cc", companions=(".h",), host_runnable=False),
    Format.ORT: FormatFiles(".ort"),
}


def artifact_suffix(fmt: Format) -> str:
    return FORMAT_FILES[fmt].suffix


def artifact_suffixes() -> tuple[str, ...]:
    """Every file suffix an export writes: artifacts and their companions."""
    return tuple(s for f in FORMAT_FILES.values() for s in (f.suffix, *f.companions))


def host_runnable_suffixes() -> tuple[str, ...]:
    """The artifacts a runtime on this machine loads directly (bench runs these)."""
    return tuple(f.suffix for f in FORMAT_FILES.values() if f.host_runnable)


def artifact_name(model: str, fmt: Format, recipe: Recipe, variant: Any = None) -> str:
    """``seed004_cnn.int8.tflite``: model, recipe, format, so ``ls`` explains each file. A
    TFLite file or C array that is not its recipe's default variant (``targets.Variant``) says
    how it differs: ``seed004_cnn.int8.io-float32.tflite``, ``...float32.batch-dynamic.tflite``."""
    tags = variant.tags(recipe) if variant is not None and fmt in (Format.TFLITE, Format.C) else []
    return ".".join([model, recipe.value, *tags]) + artifact_suffix(fmt)
