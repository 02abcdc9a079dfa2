"""Export stage 2, convert: a Keras model to the bytes of each format, with what apps need
inside them.

``FILES`` maps each format to what it writes, ``{file name: bytes}`` with the artifact under its
own name (a C array adds its header). TFLite bytes are converted once per recipe and variant
and shared with the C array that wraps them; ONNX bytes once per recipe and shared with the
``.ort`` converted from them. A format that cannot hold a file (a C array TFLM cannot run, or
one over the microcontroller budget) raises, and the stage's caller records the failure.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from edgedigits.contract.preprocessing import NAME as FROM_IMAGE
from edgedigits.contract.recipes import RECIPE_INFO, Format, Recipe
from edgedigits.contract.targets import Variant
from edgedigits.export import (
    tflite_flatbuffer,
    tflite_support_metadata,
    to_c,
    to_onnx,
    to_ort,
    to_tflite,
)
from edgedigits.export.manifest import LABELS, file_preprocessing, output_kind
from edgedigits.export.model_context import ModelContext
from edgedigits.mcu_budget import OverBudget

FileMaker = Callable[
    ["Converter", Recipe, str, Any, "bytes | None", dict[str, Any]], dict[str, bytes]
]


def _compact(document: dict) -> str:
    """JSON without spaces: a microcontroller's file carries it, counted in bytes."""
    return json.dumps(document, separators=(",", ":"))


class Converter:
    """The conversions of one model's export, with the bytes they share cached."""

    def __init__(self, ctx: ModelContext):
        self.ctx = ctx
        self._onnx_float: Any = None  # the trained model's float graph, converted once
        self._onnx_by_recipe: dict[Recipe, bytes] = {}
        self._usability: dict[Recipe, dict[str, Any]] = {}

    def files(
        self,
        fmt: Format,
        recipe: Recipe,
        name: str,
        keras_model: Any,
        tflite_bytes: bytes | None,
        details: dict[str, Any],
    ) -> dict[str, bytes]:
        return FILES[fmt](self, recipe, name, keras_model, tflite_bytes, details)

    def tflite_bytes(self, keras_model: Any, recipe: Recipe, variant: Variant) -> bytes:
        """The ``.tflite`` of ``recipe`` in ``variant``, labels and preprocessing embedded."""
        ctx = self.ctx
        calibration = ctx.calibration if RECIPE_INFO[recipe].calibrated else None
        output = output_kind(ctx.spec)  # the signature's output name: what it holds
        if recipe == Recipe.INT8_MIXED:
            raw = to_tflite.convert_keeping_float(
                keras_model, calibration, ctx.keep_float, variant, output
            )
        else:
            raw = to_tflite.convert(keras_model, recipe, calibration, variant, output)
        entries = {
            "edgedigits.labels": "\n".join(LABELS).encode(),
            "edgedigits.preprocessing": _compact(file_preprocessing(ctx.spec)).encode(),
            "edgedigits.model": _compact(ctx.metadata(recipe)).encode(),
            tflite_support_metadata.ENTRY: tflite_support_metadata.build(
                ctx.spec.name,
                ctx.spec.input_scale,
                ctx.spec.input_offset,
                tuple(ctx.spec.input_shape),
                output,
                FROM_IMAGE,
            ),
        }
        return tflite_flatbuffer.embed(raw, entries)

    def onnx_bytes(self, recipe: Recipe, keras_model: Any) -> bytes:
        """ONNX recipes start from the float graph of the model they convert: the trained one
        (float32, int8, dynamic; converted once) or a rewrite of it (int8-fixed). Made once per
        recipe: the .onnx and the .ort of a recipe share them."""
        if recipe not in self._onnx_by_recipe:
            self._onnx_by_recipe[recipe] = self._make_onnx_bytes(recipe, keras_model)
        return self._onnx_by_recipe[recipe]

    def _make_onnx_bytes(self, recipe: Recipe, keras_model: Any) -> bytes:
        import onnx

        ctx, options = self.ctx, self.ctx.options
        if keras_model is ctx.base:
            if self._onnx_float is None:
                self._onnx_float = to_onnx.keras_to_onnx(
                    ctx.base, ctx.spec.input_shape, options.opset, options.onnx_batch
                )
            source = self._onnx_float
        else:
            source = to_onnx.keras_to_onnx(
                keras_model, ctx.spec.input_shape, options.opset, options.onnx_batch
            )
        proto = onnx.ModelProto()
        proto.CopyFrom(source)
        if recipe != Recipe.FLOAT32:
            proto = to_onnx.quantize(
                proto,
                recipe,
                ctx.calibration,
                ctx.keep_float if recipe == Recipe.INT8_MIXED else [],
                options.onnx_batch,
            )
        entries = {
            "edgedigits.labels": "\n".join(LABELS),
            "edgedigits.preprocessing": _compact(file_preprocessing(ctx.spec)),
            "edgedigits.model": _compact(ctx.metadata(recipe)),
        }
        return to_onnx.with_metadata(proto, entries)

    def mobile_usability(self, recipe: Recipe, onnx_bytes: bytes) -> dict[str, Any]:
        """ONNX Runtime's NNAPI/CoreML verdicts for this recipe's graph (once per recipe)."""
        if recipe not in self._usability:
            with tempfile.TemporaryDirectory(prefix="edgedigits-usability-") as tmp:
                path = Path(tmp) / "model.onnx"
                path.write_bytes(onnx_bytes)
                self._usability[recipe] = to_ort.mobile_usability(path)
        return self._usability[recipe]

    # -- what each format writes ------------------------------------------------------------------

    def _tflite_files(self, recipe, name, keras_model, tflite_bytes, details) -> dict:
        return {name: tflite_bytes}

    def _onnx_files(self, recipe, name, keras_model, tflite_bytes, details) -> dict:
        onnx_bytes = self.onnx_bytes(recipe, keras_model)
        details.update(
            batch=self.ctx.options.onnx_batch or "dynamic",
            mobile_usability=self.mobile_usability(recipe, onnx_bytes),
        )
        return {name: onnx_bytes}

    def _ort_files(self, recipe, name, keras_model, tflite_bytes, details) -> dict:
        """The ORT conversion of this recipe's ONNX bytes."""
        onnx_bytes = self._onnx_files(recipe, name, keras_model, tflite_bytes, details)[name]
        style = self.ctx.options.ort_style
        details.update(
            optimization_style=style,
            onnx_sha256=hashlib.sha256(onnx_bytes).hexdigest(),
            not_reproducible=to_ort.NOT_REPRODUCIBLE,
        )
        return {name: to_ort.convert(onnx_bytes, style)}

    def _c_files(self, recipe, name, keras_model, tflite_bytes, details) -> dict:
        """The TFLite bytes as a source/header pair, for TFLM recipes that load there."""
        spec = self.ctx.spec
        header_name = name.removesuffix(".cc") + ".h"
        symbol = to_c.symbol_name(name.removesuffix(".cc"))
        tflm = to_c.tflm_facts(tflite_bytes)  # the array must run where it is meant to
        if not tflm["loads"]:
            raise RuntimeError(f"TensorFlow Lite Micro cannot run it: {tflm['reason']}")
        over = self.ctx.options.budget.failures(tflm["arena_bytes"], len(tflite_bytes))
        if over:
            raise OverBudget(f"does not fit the microcontroller budget: {'; '.join(over)}")
        tflm["recommended_arena_bytes"] = to_c.recommended_arena(tflm["arena_bytes"])
        details["tflm"] = tflm
        header, source = to_c.c_source(
            tflite_bytes,
            symbol,
            header_name,
            f"{spec.name} {recipe.value} TFLite model ({len(tflite_bytes)} bytes)",
            tflm,
            (float(spec.input_scale), float(spec.input_offset)),
        )
        header_bytes = header.encode()
        details.update(
            header=header_name,
            header_sha256=hashlib.sha256(header_bytes).hexdigest(),
            symbol=symbol,
            tflite_bytes=len(tflite_bytes),
            tflite_sha256=hashlib.sha256(tflite_bytes).hexdigest(),
        )
        return {name: source.encode(), header_name: header_bytes}


FILES: dict[Format, FileMaker] = {
    Format.TFLITE: Converter._tflite_files,
    Format.ONNX: Converter._onnx_files,
    Format.ORT: Converter._ort_files,
    Format.C: Converter._c_files,
}
