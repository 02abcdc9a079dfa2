"""``diagnose()``: which layer breaks a quantized artifact, in each format, and why.

Steps, each a small function (after ONNX Runtime's ``qdq_loss_debug``): run the trained Keras
model and keep every layer's output -> find each layer's tensor in each artifact
(``layers.py``) -> run the artifact one image per call and read those tensors -> compare each
with its float original (``metrics.py``) -> rank layers by the quantization noise they *add* ->
explain the worst ones from the numbers (a clipped range, a range set by outliers, an unfolded
BatchNormalization).

The reference is the trained Keras model, so the recipes diagnosed are the post-training ones
(float32, float16, dynamic, int8, int16x8); fine-tuned recipes come from a model that is not kept.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgedigits.doctor import layers as layer_io
from edgedigits.doctor.metrics import clipped_fraction, compare, int8_range
from edgedigits.errors import ModelFileError, UsageError
from edgedigits.markdown import table
from edgedigits.model_files import DEFAULT_OUT

DIAGNOSABLE = ("float32", "float16", "dynamic", "int8", "int16x8", "int8-fixed", "int8-mixed")
DEFAULT_IMAGES = 300
CLIP_WORTH_NAMING = 0.001  # 0.1% of values outside the int8 range
OUTLIER_RATIO = 4.0  # max |x| / p99.9 |x| above this: the range is set by a few outliers
RANGE_USE_WORTH_NAMING = 0.25  # values spanning under a quarter of the int8 range: < 64 levels
RESHAPING = ("Flatten", "Reshape")  # layers that move values without computing


@dataclass(frozen=True)
class LayerError:
    """One layer's output in one artifact against the Keras layer, over the diagnosed images."""

    format: str
    position: int  # 0 = the model input, then Keras layer order
    layer: str
    layer_type: str
    tensor: str  # the artifact's tensor name
    sqnr_db: float
    noise_added: float  # channel NSR here - channel NSR of the previous tensor (metrics.py)
    noise_share: float  # noise_added / the noise all layers add
    relative_rmse: float
    cosine: float
    float_min: float
    float_max: float
    float_p999: float
    quant_min: float | None  # the int8 tensor's representable range, when quantized
    quant_max: float | None
    clipped: float | None  # share of float values outside that range
    finding: str  # why, in words, from the numbers above


@dataclass(frozen=True)
class FormatResult:
    format: str
    artifact: str
    agreement: float  # top-1 agreement with the Keras model on the diagnosed images
    accuracy: float
    reference_accuracy: float
    worst_layer: str | None
    unmatched_layers: list[str]  # Keras layers with no tensor of their own (folded away)
    # The recipe's promise (the contract's tolerance, as export and bench judge it), on these
    # images: None when the file's output tensor could not be read.
    meets_promise: bool | None = None
    promise_failures: list[str] = field(default_factory=list)


@dataclass
class DoctorReport:
    model: str
    recipe: str
    images: int
    formats: list[FormatResult] = field(default_factory=list)
    layers: list[LayerError] = field(default_factory=list)

    def ranked(self, fmt: str) -> list[LayerError]:
        return sorted((e for e in self.layers if e.format == fmt), key=lambda e: -e.noise_added)

    def to_json(self) -> dict[str, Any]:
        def clean(value: Any) -> Any:
            return None if isinstance(value, float) and not math.isfinite(value) else value

        return {
            "schema": "edgedigits.doctor/1",
            "model": self.model,
            "recipe": self.recipe,
            "images": self.images,
            "formats": [asdict(f) for f in self.formats],
            "layers": [{k: clean(v) for k, v in asdict(e).items()} for e in self.layers],
        }

    def to_markdown(self) -> str:
        lines = [f"# Doctor: {self.model} {self.recipe} ({self.images} test images)", ""]
        for f in self.formats:
            lines += [
                f"## {f.format}: `{f.artifact}`",
                "",
                f"Agreement with the Keras model {100 * f.agreement:.2f}%, accuracy "
                f"{f.accuracy:.2f}% vs {f.reference_accuracy:.2f}%; {_promise(f)}. "
                "Layers ranked by the "
                "quantization noise they add (worst first):",
                "",
                *table(
                    [
                        "rank",
                        "layer",
                        "type",
                        "SQNR dB",
                        "noise added (share)",
                        "rel. RMSE",
                        "cosine",
                        "float range",
                        "int8 range",
                        "clipped",
                        "finding",
                    ],
                    [_layer_row(k, e) for k, e in enumerate(self.ranked(f.format), 1)],
                    "rllrrrrllrl",
                ),
            ]
            if f.unmatched_layers:
                lines += [
                    "",
                    f"No tensor of their own (folded into a neighbour): "
                    f"{', '.join(f.unmatched_layers)}.",
                ]
            lines.append("")
        return "\n".join(lines)

    def plot(self, path: str | Path) -> None:
        """Error by layer for each format, side by side (``plots.layer_errors``)."""
        from edgedigits import plots

        panels = []
        for f in self.formats:
            rows = sorted(
                (e for e in self.layers if e.format == f.format), key=lambda e: e.position
            )
            panels.append(
                (
                    f"{f.artifact} (agreement {100 * f.agreement:.2f}%)",
                    [e.layer for e in rows],
                    [e.sqnr_db for e in rows],
                    [e.noise_share for e in rows],
                )
            )
        plots.layer_errors(panels, f"{self.model} {self.recipe}: error by layer", Path(path))

    def terminal(self) -> str:
        out = []
        for f in self.formats:
            out.append(
                f"{f.artifact}: agreement {100 * f.agreement:.2f}%, accuracy "
                f"{f.accuracy:.2f}% (Keras {f.reference_accuracy:.2f}%); {_promise(f)}"
            )
            out.append(
                f"  {'rank':>4s}  {'layer':24s} {'type':20s} {'SQNR dB':>8s} {'adds':>6s}  finding"
            )
            for k, e in enumerate(self.ranked(f.format), 1):
                out.append(
                    f"  {k:4d}  {e.layer:24s} {e.layer_type:20s} {_db(e.sqnr_db):>8s} "
                    f"{100 * e.noise_share:5.0f}%  {e.finding}"
                )
        return "\n".join(out)


def _db(value: float) -> str:
    return "exact" if value == math.inf else f"{value:.1f}"


def _exported(out: Path, model: str, recipe: str, fmt: str) -> bool:
    try:
        _artifact(out, model, recipe, fmt)
    except ModelFileError:
        return False
    return True


def _artifact(out: Path, model: str, recipe: str, fmt: str) -> Path:
    """The recipe's file in that format: the default variant, else another one on disk (a
    pipeline writes int8 .tflite files with float32 I/O for the web and phones)."""
    from edgedigits.contract.targets import is_variant_tag

    path = out / model / f"{model}.{recipe}.{fmt}"
    if not path.is_file():
        variants = [
            p
            for p in sorted((out / model).glob(f"{model}.{recipe}.*.{fmt}"))
            if all(
                is_variant_tag(t)
                for t in p.name[len(f"{model}.{recipe}.") : -len(f".{fmt}")].split(".")
            )
        ]
        path = variants[0] if variants else path
    if not path.is_file():
        raise ModelFileError(
            f"{path}: not exported; run 'edgedigits export {model} --format "
            f"{fmt} --quant {recipe} --out {out}' first"
        )
    return path


def diagnose(
    name: str,
    *,
    recipe: str = "int8",
    formats: str | Sequence[str] | None = None,
    out: str | Path = DEFAULT_OUT,
    data: str | Path | None = None,
    images: int = DEFAULT_IMAGES,
    dataset: Any = None,
    log: Callable[[str], None] = print,
) -> DoctorReport:
    """Per-layer quantization error of ``name``'s ``recipe`` artifacts against its Keras model.

    ``formats`` None: each of .tflite and .onnx that is exported for the recipe (both side by
    side when both are there); neither exported is an error naming the export command."""
    from edgedigits.comparator import compare as judge
    from edgedigits.contract.recipes import (
        FORMAT_RECIPES,
        RECIPE_INFO,
        Format,
        Recipe,
        parse_formats,
    )
    from edgedigits.data import load_dataset
    from edgedigits.imported import resolve_names
    from edgedigits.model_files import load_trained_model, model_path
    from edgedigits.zoo import get_spec

    spec = get_spec(resolve_names([name], out=out)[0])  # a zoo name, or imported under out
    if recipe not in DIAGNOSABLE:
        raise UsageError(
            f"--quant {recipe}: the doctor diagnoses post-training recipes "
            f"({', '.join(DIAGNOSABLE)}); fine-tuned ones come from a model that "
            "is not kept"
        )
    fmts = [f for f in parse_formats(formats or "tflite,onnx") if f != Format.C]
    fmts = [f for f in fmts if Recipe(recipe) in FORMAT_RECIPES[f]]
    if not fmts:
        raise UsageError(f"--format {formats}: no format there offers {recipe}")
    if formats is None:  # what is on disk decides; with nothing there, the first one's error
        on_disk = [f for f in fmts if _exported(Path(out), name, recipe, f.value)]
        fmts = on_disk or fmts[:1]
    if images < 1:
        raise UsageError(f"--images {images}: must be at least 1")
    out = Path(out)
    paths = {f.value: _artifact(out, name, recipe, f.value) for f in fmts}
    dataset = dataset or load_dataset(data)
    if images > dataset.num_test:
        raise UsageError(f"--images {images}: the test split has {dataset.num_test} images")
    model = load_trained_model(model_path(out, name), spec)
    if recipe == "int8-fixed":
        # Its layers compute the rewrite's values (a BatchNormalization folded through a pool
        # changes what the pool outputs): compare with the rewrite, float-equal at the output.
        from edgedigits.doctor.fixes import fold_batchnorm

        model = fold_batchnorm(model).model
    x = spec.preprocess(dataset.test_images[:images])
    labels = dataset.test_labels[:images]
    reference = layer_io.keras_layer_outputs(model, x)
    types = {layer.name: type(layer).__name__ for layer in model.layers}
    shapes = {layer.name: tuple(layer.output.shape[1:]) for layer in model.layers}
    order = [layer_io.INPUT] + [layer.name for layer in model.layers]
    report = DoctorReport(model=name, recipe=recipe, images=images)
    for fmt, path in paths.items():
        log(f"  {path.name}: reading every layer's tensor on {images} images")
        if fmt == "tflite":
            interpreter = layer_io.tflite_interpreter(path)
            tensors = layer_io.tflite_layer_tensors(interpreter, shapes)
            values = layer_io.tflite_values(interpreter, tensors, x)
        else:
            augmented, tensors = layer_io.onnx_layer_tensors(path, shapes)
            values = layer_io.onnx_values(augmented, tensors, x)
        rows = _layer_errors(fmt, tensors, values, reference, types, order)
        report.layers.extend(rows)
        last = model.layers[-1].name
        final = values.get(last)
        predicted = np.argmax(final.reshape(len(x), -1), axis=1) if final is not None else None
        ref_pred = np.argmax(reference[last].reshape(len(x), -1), axis=1)
        worst = max(rows, key=lambda e: e.noise_added).layer if rows else None
        verdict = (
            None
            if final is None
            else judge(
                spec.probabilities(final.reshape(len(x), -1)),
                spec.probabilities(reference[last].reshape(len(x), -1)),
                labels,
                RECIPE_INFO[Recipe(recipe)].tolerance,
            )
        )
        report.formats.append(
            FormatResult(
                format=fmt,
                artifact=path.name,
                agreement=float(np.mean(predicted == ref_pred))
                if predicted is not None
                else math.nan,
                accuracy=100 * float(np.mean(predicted == labels))
                if predicted is not None
                else math.nan,
                reference_accuracy=100 * float(np.mean(ref_pred == labels)),
                worst_layer=worst,
                unmatched_layers=[n for n in order[1:] if n not in values],
                meets_promise=None if verdict is None else verdict.passed,
                promise_failures=[] if verdict is None else verdict.failures,
            )
        )
    return report


def _layer_row(rank: int, e: LayerError) -> list[Any]:
    q = f"[{e.quant_min:.3g}, {e.quant_max:.3g}]" if e.quant_min is not None else "float"
    return [
        rank,
        e.layer,
        e.layer_type,
        _db(e.sqnr_db),
        f"{e.noise_added:.2e} ({100 * e.noise_share:.0f}%)",
        f"{e.relative_rmse:.4f}",
        f"{e.cosine:.5f}",
        f"[{e.float_min:.3g}, {e.float_max:.3g}]",
        q,
        f"{100 * e.clipped:.2f}%" if e.clipped is not None else "",
        e.finding,
    ]


def _promise(f: FormatResult) -> str:
    if f.meets_promise is None:
        return "its recipe's promise not judged (no output tensor read)"
    if f.meets_promise:
        return "its recipe's promise is met"
    return f"its recipe's promise is not met ({'; '.join(f.promise_failures)})"


def _layer_errors(
    fmt: str,
    tensors: list[layer_io.LayerTensor],
    values: dict[str, np.ndarray],
    reference: dict[str, np.ndarray],
    types: dict[str, str],
    order: list[str],
) -> list[LayerError]:
    by_layer = {t.layer: t for t in tensors}
    matched = [name for name in order if name in values]
    stats = {}
    for k, name in enumerate(matched):
        f, q = reference[name], values[name]
        if types.get(name) in RESHAPING and k and reference[matched[k - 1]].size == f.size:
            # Same values, new layout: keep the channels of the tensor it reshapes, or the
            # channel NSR would change definition (and jump) at a layer that computes nothing.
            shape = reference[matched[k - 1]].shape
            f, q = f.reshape(shape), q.reshape(shape)
        stats[name] = compare(f, q)
    added_by: dict[str, float] = {}
    previous = 0.0
    for name in matched:
        nsr = stats[name].channel_nsr
        added_by[name] = max(nsr - previous, 0.0) if math.isfinite(nsr) else math.inf
        previous = nsr if math.isfinite(nsr) else previous
    total = sum(v for v in added_by.values() if math.isfinite(v))
    rows = []
    for name in matched:
        s, t, added = stats[name], by_layer[name], added_by[name]
        low = high = clip = None
        if t.scale is not None:
            low, high = int8_range(t.scale, t.zero_point)
            clip = clipped_fraction(reference[name], low, high)
        share = added / total if total > 0 and math.isfinite(added) else 0.0
        rows.append(
            LayerError(
                format=fmt,
                position=order.index(name),
                layer=name,
                layer_type=types.get(name, "input"),
                tensor=t.tensor,
                sqnr_db=s.sqnr_db,
                noise_added=added,
                noise_share=share,
                relative_rmse=s.relative_rmse,
                cosine=s.cosine,
                float_min=s.float_min,
                float_max=s.float_max,
                float_p999=s.float_p999,
                quant_min=low,
                quant_max=high,
                clipped=clip,
                finding=_finding(name, types.get(name, "input"), s, low, high, clip, share),
            )
        )
    return rows


def _finding(
    name: str,
    layer_type: str,
    s: Any,
    low: float | None,
    high: float | None,
    clip: float | None,
    share: float,
) -> str:
    """Why this layer loses precision, read off its numbers."""
    reasons = []
    if clip is not None and clip > CLIP_WORTH_NAMING:
        reasons.append(
            f"{100 * clip:.1f}% of its float values fall outside the int8 range "
            f"[{low:.3g}, {high:.3g}]: the calibration range is too narrow"
        )
    if low is not None and high > low:
        used = (s.float_max - s.float_min) / (high - low)
        if used < RANGE_USE_WORTH_NAMING:
            reasons.append(
                f"its values [{s.float_min:.3g}, {s.float_max:.3g}] use only "
                f"{100 * used:.0f}% of its int8 range [{low:.3g}, {high:.3g}] (about "
                f"{max(1, round(255 * used))} of 256 levels): the range is far too "
                "wide for this tensor"
            )
    peak = max(abs(s.float_min), abs(s.float_max))
    if low is not None and s.float_p999 > 0 and peak / s.float_p999 > OUTLIER_RATIO:
        step = (high - low) / 255
        reasons.append(
            f"range set by outliers: max |x| {peak:.3g} is {peak / s.float_p999:.0f}x "
            f"the 99.9th percentile {s.float_p999:.3g}, so one int8 step ({step:.3g}) "
            f"is coarse for most values"
        )
    if layer_type == "BatchNormalization":
        reasons.append(
            "a BatchNormalization the converter could not fold into a Conv/Dense "
            "(it follows an activation), quantized on its own"
        )
    if not reasons:
        reasons.append(
            f"adds {100 * share:.0f}% of the quantization noise the layers add"
            if share > 0
            else "no measurable added noise"
        )
    return "; ".join(reasons)
