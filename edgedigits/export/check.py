"""Export stage 3, check: run each staged file where its app runs it, judge it, and compute its
golden vectors.

Every file is run in its runtime (``runner_for``: LiteRT for ``.tflite``, ONNX Runtime for
``.onnx``/``.ort``) the way an app calls it, compared with the trained Keras model on the verify
images by its recipe's tolerance (``edgedigits.contract``: the promise bench judges too), and
its tensors and interface recorded. ``CHECKS`` adds what a format needs on top: an ``.ort`` must
give its ``.onnx``'s outputs; a C array must hold the TFLite bytes exactly and is judged in
TensorFlow Lite Micro, where it runs. Each check returns the file's golden entry.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from edgedigits import atomic
from edgedigits.comparator import Parity, Tolerance, compare
from edgedigits.contract.recipes import RECIPE_INFO, Format, Recipe, RecipeInfo, artifact_name
from edgedigits.export import app_contract, to_c, to_ort
from edgedigits.export.convert import Converter
from edgedigits.export.golden import golden_entry
from edgedigits.export.manifest import ArtifactRecord
from edgedigits.export.model_context import ModelContext
from edgedigits.export.options import Job
from edgedigits.runtimes import quantize, runner_for
from edgedigits.runtimes.batching import (
    infer_as_deployed,
    infer_one_at_a_time,
    infer_raw_one_at_a_time,
)

FileCheck = Callable[
    ["Checker", ArtifactRecord, Path, Job, np.ndarray, Any, "bytes | None"], dict[str, Any]
]


def judged(result: Parity, tolerance: Tolerance) -> dict[str, Any]:
    """The figures of one comparison and the tolerance that judged them, for a parity record."""
    return {
        "agreement": result.agreement,
        "max_abs_diff": result.max_abs_diff,
        "accuracy": result.accuracy,
        "reference_accuracy": result.reference_accuracy,
        "tolerance": dataclasses.asdict(tolerance),
        "passed": result.passed,
        "failures": result.failures,
    }


class Checker:
    """The checks of one model's export; ``converter`` gives an ``.ort`` its ``.onnx`` bytes."""

    def __init__(self, ctx: ModelContext, converter: Converter):
        self.ctx, self.converter = ctx, converter

    def check(
        self,
        record: ArtifactRecord,
        path: Path,
        job: Job,
        reference: np.ndarray,
        keras_model: Any,
        tflite_bytes: bytes | None,
    ) -> dict[str, Any]:
        """Fill ``record`` (tensors, parity, interface) from the staged file at ``path`` and
        return its golden entry; ``reference``: the outputs its conversion must match."""
        check = CHECKS.get(job.format, Checker._in_its_runtime)
        return check(self, record, path, job, reference, keras_model, tflite_bytes)

    def parity(
        self, outputs: np.ndarray, reference: np.ndarray, info: RecipeInfo, batch: int
    ) -> dict[str, Any]:
        """The export-time parity record, judged by the contract's tolerance for the recipe
        (``info.tolerance``) against the *trained* Keras model on the verify images: the same
        promise, against the same model, that ``bench`` judges. A fine-tuned recipe's file must
        also be a faithful conversion of its fine-tuned model (``reference``), by the tolerance
        of the recipe it converts as (``conversion``)."""
        ctx = self.ctx
        result = compare(outputs, ctx.base_verify, ctx.verify_y, info.tolerance)
        parity = {
            "images": int(len(outputs)),
            "batch": batch,  # 1 when the file's outputs depend on the batch size
            "reference": "trained Keras model",
            **judged(result, info.tolerance),
        }
        if info.converts_as is not None:
            tolerance = RECIPE_INFO[info.converts_as].tolerance
            conversion = compare(outputs, reference, ctx.verify_y, tolerance)
            parity["conversion"] = {
                "reference": "fine-tuned Keras model",
                **judged(conversion, tolerance),
            }
            parity["passed"] = result.passed and conversion.passed
            parity["failures"] = result.failures + [f"conversion: {f}" for f in conversion.failures]
        return parity

    def verify(
        self, record: ArtifactRecord, path: Path, recipe: Recipe, reference: np.ndarray
    ) -> dict[str, Any]:
        """Run the file in its runtime: parity on test images, tensors; returns its golden
        entry."""
        info = RECIPE_INFO[recipe]
        with runner_for(path) as runner:
            record.inputs = [t.to_json() for t in runner.inputs]
            record.outputs = [t.to_json() for t in runner.outputs]
            deployed = infer_as_deployed(runner, self.ctx.verify_x, batch=self.ctx.scoring_batch)
            outputs = self.ctx.spec.probabilities(deployed.outputs)
            golden, raw = self.golden_outputs(runner)
        record.parity = self.parity(outputs, reference, info, deployed.batch)
        return golden_entry(golden, raw, record.sha256, info.golden_atol)

    def golden_outputs(self, runner: Any) -> tuple[np.ndarray, np.ndarray | None]:
        """Golden vectors are what an app's test sees: one image per call, in this runtime.
        Returns the outputs and, for a quantized output tensor, its raw integers."""
        golden_x = self.ctx.golden_x
        raw = infer_raw_one_at_a_time(runner, quantize(golden_x, runner.inputs[0]))
        quantized = runner.outputs[0].scale is not None
        return infer_one_at_a_time(runner, golden_x), raw if quantized else None

    # -- what each format is checked for, on top of its runtime run ------------------------------

    def _in_its_runtime(self, record, path, job, reference, keras_model, tflite_bytes):
        golden = self.verify(record, path, job.recipe, reference)
        record.interface = app_contract.interface(
            record.format, path, record.inputs, record.outputs, self.ctx.spec
        )
        return golden

    def _ort(self, record, path, job, reference, keras_model, tflite_bytes):
        """Like every file, plus: the same outputs as the .onnx it was converted from."""
        recipe, ctx = job.recipe, self.ctx
        golden = self.verify(record, path, recipe, reference)
        onnx_bytes = self.converter.onnx_bytes(recipe, keras_model)
        record.interface = app_contract.interface(
            record.format, path, record.inputs, record.outputs, ctx.spec, onnx_bytes=onnx_bytes
        )
        with atomic.StagedFile(
            ctx.work / artifact_name(ctx.spec.name, Format.ONNX, recipe)
        ) as onnx_file:
            onnx_file.write_bytes(onnx_bytes)
            record.details["onnx_max_abs_diff"] = to_ort.check_conversion(
                path, onnx_file.path, ctx.verify_x
            )
        return golden

    def _c_array(self, record, path, job, reference, keras_model, tflite_bytes):
        """The array must be the TFLite bytes; tensors as LiteRT reads them, parity and golden
        vectors in TFLM, where the array runs."""
        recipe, ctx = job.recipe, self.ctx
        if to_c.parse_c_array(path.read_text()) != tflite_bytes:
            raise RuntimeError("C array does not round-trip to the TFLite bytes")
        with atomic.StagedFile(
            ctx.work / artifact_name(ctx.spec.name, Format.TFLITE, recipe, job.variant)
        ) as check:
            litert_entry = self.verify(
                record, check.write_bytes(tflite_bytes).path, recipe, reference
            )  # tensors as the flatbuffer declares them
            record.parity, facts, golden = self._in_tflm(
                record.file, check.path, recipe, reference, litert_entry
            )
        record.details["tflm"].update(facts)
        record.interface = app_contract.interface(
            record.format, path, record.inputs, record.outputs, ctx.spec, tflite_bytes=tflite_bytes
        )
        return golden

    def _in_tflm(
        self,
        name: str,
        path: Path,
        recipe: Recipe,
        reference: np.ndarray,
        litert_entry: dict[str, Any],
    ) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        """Verify a C array where it runs: TensorFlow Lite Micro, one image per ``invoke()``.

        Returns its parity record (judged as every artifact is), the facts for
        ``details.tflm``, and its golden entry, computed in TFLM because that is what the
        firmware computes.

        Distances to LiteRT on the same bytes are recorded, not judged: TFLM's kernels are ports
        of TFLite's reference kernels but not bit-identical to them everywhere (seen: 2 int8
        steps on one CNN's softmax), and XNNPACK requantizes differently again (one int8 step
        in coarse QAT logits moves a softmax output by 7 steps), so a firmware test against
        LiteRT's vectors could fail on a correct device.
        """
        from edgedigits.runtimes.litert import LiteRTRunner
        from edgedigits.runtimes.tflm import TFLMRunner

        ctx, info = self.ctx, RECIPE_INFO[recipe]
        with TFLMRunner(path) as runner:
            outputs = ctx.spec.probabilities(runner.infer(ctx.verify_x))  # one per invoke()
            got, got_raw = self.golden_outputs(runner)
        parity = {"runtime": "tflm", **self.parity(outputs, reference, info, batch=1)}
        with LiteRTRunner(path, reference_kernels=True) as runner:
            want, want_raw = self.golden_outputs(runner)
        xnnpack = np.asarray(litert_entry["expected"])
        facts = {
            "golden_runtime": "tflm",
            "reference_kernels_max_abs_diff": float(f"{np.max(np.abs(got - want)):.3g}"),
            "reference_kernels_max_raw_diff": (
                int(np.max(np.abs(got_raw.astype(np.int64) - want_raw)))
                if got_raw is not None
                else None
            ),
            "xnnpack_max_abs_diff": float(f"{np.max(np.abs(got - xnnpack)):.3g}"),
            "xnnpack_same_class": bool(np.array_equal(got.argmax(1), xnnpack.argmax(1))),
        }
        if facts["xnnpack_max_abs_diff"] > litert_entry["atol"]:
            ctx.log(
                f"  {name}: TFLM's golden outputs are {facts['xnnpack_max_abs_diff']:g} "
                f"from LiteRT's XNNPACK ones ({facts['reference_kernels_max_abs_diff']:g} "
                f"from its reference kernels); the C array's golden entry holds TFLM's"
            )
        entry = golden_entry(
            got, got_raw, litert_entry["sha256"], litert_entry["atol"], runtime="tflm"
        )
        return parity, facts, entry


CHECKS: dict[Format, FileCheck] = {Format.ORT: Checker._ort, Format.C: Checker._c_array}
