"""Export stage 1, optimize: the Keras model a recipe converts, and the repair ``--auto-fix``
picks.

Most recipes convert the trained model as it is. Fine-tuned recipes (QAT, pruning, clustering;
``model_optimization.py``) convert a fine-tuned copy, and ``int8-fixed`` a float-equivalent
rewrite (the doctor's BatchNormalization fold, checked equal on test images). When an int8 file
fails its promise, ``choose_repair`` reads the lint and, failing that, the doctor's per-layer
diagnosis to pick ``int8-fixed`` or the layers ``int8-mixed`` keeps in float.
"""

from __future__ import annotations

from typing import Any

from edgedigits.contract.recipes import RECIPE_INFO, Format, Recipe
from edgedigits.export import model_optimization
from edgedigits.export.model_context import ModelContext


def keras_for(ctx: ModelContext, recipe: Recipe) -> tuple[Any, dict[str, Any]]:
    """The Keras model ``recipe`` converts, and what was done to it (for the record)."""
    if recipe == Recipe.INT8_FIXED:
        from edgedigits.doctor.fixes import assert_equivalent, fold_batchnorm

        rewrite = fold_batchnorm(ctx.fresh_copy())
        diff = assert_equivalent(ctx.base, rewrite.model, ctx.verify_x[:500])
        return rewrite.model, {
            "fixes": rewrite.changes or ["none needed: no BatchNormalization to fold"],
            "rewrite_max_abs_diff": float(f"{diff:.3g}"),
        }
    if not RECIPE_INFO[recipe].finetuned:
        return ctx.base, {}
    optimized = model_optimization.optimize(
        recipe, ctx.fresh_copy(), ctx.spec, ctx.dataset, ctx.options.finetune_options
    )  # tfmot mutates it
    return optimized.model, optimized.details


def conversion_reference(ctx: ModelContext, recipe: Recipe, keras_model: Any) -> Any:
    """The outputs a file of ``recipe`` must convert faithfully: its own Keras model's on the
    verify images. A rewrite is float-equivalent, so its reference is the trained model's."""
    if keras_model is ctx.base or recipe == Recipe.INT8_FIXED:
        return ctx.base_verify
    return ctx.keras_outputs(keras_model, ctx.verify_x)


def choose_repair(ctx: ModelContext, formats: list[Format]) -> Recipe:
    """The recipe that repairs a failing int8 file: ``int8-fixed`` when the lint finds a
    BatchNormalization to fold (exact in float), else ``int8-mixed`` keeping the layer the doctor
    ranks worst in float, and the next layer with weights too (a float op's output is still
    quantized for an int8 consumer). Sets ``ctx.keep_float`` and its reason for that recipe."""
    if any(f.rule == "bn-not-foldable" for f in ctx.lint):
        return Recipe.INT8_FIXED
    from edgedigits.doctor import diagnose

    report = diagnose(
        ctx.spec.name,
        recipe="int8",
        formats=[f.value for f in formats if f != Format.C],
        out=ctx.out,
        dataset=ctx.dataset,
        log=ctx.log,
    )
    worst = [e for e in report.ranked(report.formats[0].format) if e.layer != "(input)"][0]
    names = [layer.name for layer in ctx.base.layers]
    consumer = next(
        (layer.name for layer in ctx.base.layers[names.index(worst.layer) + 1 :] if layer.weights),
        None,
    )
    ctx.keep_float = [worst.layer] + ([consumer] if consumer else [])
    ctx.keep_float_reason = (
        f"edgedigits doctor: {worst.layer} adds the most quantization noise ({worst.finding})"
        + (
            f"; {consumer}, which consumes its output, is kept float so that output is never int8"
            if consumer
            else ""
        )
    )
    return Recipe.INT8_MIXED
