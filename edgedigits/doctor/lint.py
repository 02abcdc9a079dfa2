"""Known quantization pitfalls, found on the Keras model before any conversion.

Each rule names the layer, the recipes it hurts, and whether the recipe will fail (``error``) or
lose accuracy or speed (``warning``). The rules come from what this project measured:

* **BatchNormalization not directly after a Conv/Dense** (after its ReLU, say): it cannot be
  folded into the layer before it, so TFLite quantizes it as its own MUL+ADD, and tfmot's
  quantization-aware training has no quantize config for it (QAT failed on seed000_deep_mlp*
  and seed001_optimized_cnn until export learned to fold it forward, ``fixes.py``).
  ``edgedigits doctor`` showed what it costs int8
  TFLite on seed001_optimized_cnn: the convolution before it is quantized over the
  BatchNormalization's range, far too wide for its own values.
* **Layers tfmot cannot quantize or prune** (its own registries are asked): qat / pruned fail.
* **Kernels too small to prune**: 50% sparsity on a kernel of a few hundred weights removes
  capacity the layer needs (seed004_mlp12 lost 13 points; export now keeps such kernels dense).
* **int16x8 has no XNNPACK kernels**: every op runs on LiteRT's reference kernels (measured
  2.95-84x slower than int8 on the zoo).
* **Float input/output in a full-integer file** (checked on the exported ``.tflite``).
* **C arrays TensorFlow Lite Micro cannot run**: float16 (TFLM's DEQUANTIZE has no float16
  input) and dynamic range (no hybrid kernels), found by running the zoo's arrays in the
  tflite-micro interpreter; ``lint_artifact`` runs the file itself when tflite-micro is
  installed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from edgedigits.contract.recipes import PRUNE_MIN_KERNEL_WEIGHTS

FOLDABLE_INTO = ("Conv1D", "Conv2D", "DepthwiseConv2D", "Dense")
FULL_INTEGER = ("int8", "qat", "int8-fixed", "int8-mixed")


@dataclass(frozen=True)
class LintFinding:
    layer: str  # the Keras layer, or "*" for the whole model
    rule: str
    recipes: tuple[str, ...]  # recipes it affects
    severity: str  # "error": the recipe fails; "warning": it loses accuracy or speed
    message: str

    def line(self) -> str:
        return f"{self.severity}: {self.layer}: [{', '.join(self.recipes)}] {self.message}"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def activation_name(layer: Any) -> str:
    activation = getattr(layer, "activation", None)
    return getattr(activation, "__name__", "linear") if activation is not None else "linear"


def lint_model(model: Any, recipes: Iterable[str] | None = None) -> list[LintFinding]:
    """Pitfalls of ``model`` for ``recipes`` (default: every recipe)."""
    from tensorflow_model_optimization.python.core.quantization.keras.default_8bit import (
        default_8bit_quantize_registry as quantize_registry,
    )
    from tensorflow_model_optimization.python.core.sparsity.keras import prune_registry

    from edgedigits.contract.recipes import Recipe

    wanted = set(recipes) if recipes is not None else {r.value for r in Recipe}
    qat = quantize_registry.Default8BitQuantizeRegistry()
    findings: list[LintFinding] = []

    def add(layer: str, rule: str, affected: tuple[str, ...], severity: str, message: str):
        affected = tuple(r for r in affected if r in wanted)
        if affected:
            findings.append(LintFinding(layer, rule, affected, severity, message))

    layers = [layer for layer in model.layers if type(layer).__name__ != "InputLayer"]
    for k, layer in enumerate(layers):
        kind = type(layer).__name__
        before = layers[k - 1] if k else None
        if kind == "BatchNormalization":
            if (
                before is None
                or type(before).__name__ not in FOLDABLE_INTO
                or activation_name(before) != "linear"
            ):
                where = (
                    f"after {before.name}'s {activation_name(before)}"
                    if before is not None and type(before).__name__ in FOLDABLE_INTO
                    else f"after {before.name if before is not None else 'the input'}"
                )
                add(
                    layer.name,
                    "bn-not-foldable",
                    ("int8", "int16x8"),
                    "warning",
                    f"BatchNormalization {where} cannot be folded into a Conv/Dense: it is "
                    "quantized as its own MUL+ADD, and TFLite may quantize the layer before it "
                    "over the BatchNormalization's range (run 'edgedigits doctor')",
                )
                add(
                    layer.name,
                    "bn-not-foldable",
                    ("qat",),
                    "warning",
                    f"BatchNormalization {where}: tfmot's quantization-aware training only "
                    "quantizes one that directly follows a Conv/Dense without activation; "
                    "export folds it forward first (exact in float, doctor/fixes.py)",
                )
            continue
        if not qat.supports(layer):
            add(
                layer.name,
                "qat-unsupported",
                ("qat",),
                "error",
                f"tfmot cannot quantize a {kind} layer",
            )
        if not prune_registry.PruneRegistry.supports(layer):
            add(
                layer.name,
                "prune-unsupported",
                ("pruned",),
                "error",
                f"tfmot cannot prune a {kind} layer",
            )
        kernel = getattr(layer, "kernel", None)
        if kernel is not None and int(kernel.shape.num_elements()) < PRUNE_MIN_KERNEL_WEIGHTS:
            add(
                layer.name,
                "small-kernel",
                ("pruned",),
                "warning",
                f"its {'x'.join(str(d) for d in kernel.shape)} kernel has "
                f"{int(kernel.shape.num_elements())} weights: pruning half of them can cut "
                "capacity the layer needs",
            )
    # Measured with the tflite-micro interpreter on the zoo's C arrays (its own log lines).
    add(
        "*",
        "tflm-unsupported",
        ("float16",),
        "warning",
        "TensorFlow Lite Micro cannot run this recipe's C array: its DEQUANTIZE takes int8, "
        'int16 or uint8, not float16 weights ("Node DEQUANTIZE failed to prepare")',
    )
    add(
        "*",
        "tflm-unsupported",
        ("dynamic",),
        "warning",
        "TensorFlow Lite Micro cannot run this recipe's C array: it has no hybrid kernels "
        '("Input type: FLOAT32 with filter type: INT8 not supported")',
    )
    add(
        "*",
        "int16x8-reference-kernels",
        ("int16x8",),
        "warning",
        "XNNPACK has no int16x8 kernels: every op runs on LiteRT's reference kernels (2.95-84x "
        "slower than int8 on the zoo, bench/results/bench_zoo_summary.md)",
    )
    return findings


def lint_artifact(path: Path, recipe: str) -> list[LintFinding]:
    """Checks on an exported ``.tflite``: TensorFlow Lite Micro can prepare it (when tflite-micro
    is installed), and a full-integer file takes and gives integers."""
    if Path(path).suffix != ".tflite":
        return []
    findings = _tflm_check(Path(path), recipe)
    if recipe not in FULL_INTEGER:
        return findings
    from edgedigits.runtimes import runner_for

    with runner_for(path) as runner:
        floats = [
            f"{kind} {t.name} is {t.dtype}"
            for kind, tensors in (("input", runner.inputs), ("output", runner.outputs))
            for t in tensors
            if t.dtype.startswith("float")
        ]
    return findings + (
        [
            LintFinding(
                Path(path).name,
                "float-io",
                (recipe,),
                "error",
                f"a full-integer file with float I/O: {', '.join(floats)}",
            )
        ]
        if floats
        else []
    )


def _tflm_check(path: Path, recipe: str) -> list[LintFinding]:
    from edgedigits.runtimes.tflm import TFLMCannotRun, TFLMRunner

    if TFLMRunner.unavailable_reason():
        return []  # not installed: the recipe-level rule in lint_model still applies
    try:
        with TFLMRunner(path):
            return []
    except TFLMCannotRun as exc:
        reason = exc.reason
    return [
        LintFinding(
            path.name,
            "tflm-cannot-run",
            (recipe,),
            "warning",
            f"TensorFlow Lite Micro cannot prepare this file: {reason}",
        )
    ]


def lint(
    name: str, *, recipes: Iterable[str] | None = None, out: str | Path = "exports"
) -> list[LintFinding]:
    """``edgedigits doctor --lint``: the trained model's pitfalls (its shipped weights, or the
    registry's architecture, when it is not trained under ``out``), plus the I/O of any
    full-integer ``.tflite`` already exported."""
    from edgedigits.imported import resolve_names
    from edgedigits.model_files import load_trained_model, model_path
    from edgedigits.zoo import create_model, get_spec

    spec = get_spec(resolve_names([name], out=out)[0])  # a zoo name, or imported under out
    path = model_path(out, name)
    if path.is_file():
        model = load_trained_model(path, spec)
    else:  # not trained there: the shipped weights, else the architecture alone
        from edgedigits.model_files.shipped import load_pretrained
        from edgedigits.zoo.pretrained import pretrained

        model = load_pretrained(name) if pretrained(name) else create_model(name)
    findings = lint_model(model, recipes)
    from edgedigits.contract.targets import is_variant_tag

    for artifact in sorted((Path(out) / name).glob(f"{name}.*.tflite")):
        parts = artifact.name[len(name) + 1 : -len(".tflite")].split(".")
        recipe = parts[0] if all(is_variant_tag(t) for t in parts[1:]) else ".".join(parts)
        if recipes is None or recipe in set(recipes):
            findings += lint_artifact(artifact, recipe)
    return findings
