"""``export()``: every requested model x format x recipe, verified, with manifest and golden
vectors.

Flow per model: load the trained ``.keras`` (safe mode, architecture checked) -> for each recipe,
the Keras model that recipe converts (the trained one, or a fine-tuned copy for tfmot recipes) ->
convert per format -> stage the bytes under a temporary name -> run the staged file in its runtime
and compare with that Keras model on test images -> land it: rename into place with its manifest
record and golden vectors (``artifact_store.py``). A recipe that fails (say, a layer the quantizer
does not support) becomes a failed record with the reason, leaving any earlier good file and
record as they were; the others go on.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gzip
import hashlib
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from edgedigits import atomic, folder_commit
from edgedigits.comparator import Parity, Tolerance, compare
from edgedigits.contract.recipes import RECIPE_INFO, Format, Recipe, RecipeInfo, artifact_name
from edgedigits.contract.targets import IO, Variant, targets_for
from edgedigits.data import Dataset, load_dataset
from edgedigits.errors import DiskFullError, ModelFileError, UsageError, first_line, is_disk_full
from edgedigits.export import (
    app_contract,
    model_optimization,
    tflite_flatbuffer,
    to_c,
    to_onnx,
    to_ort,
    to_tflite,
)
from edgedigits.export.artifact_store import ArtifactStore, check_export_folders, read_metrics
from edgedigits.export.calibration import CalibrationSet, calibration_set
from edgedigits.export.golden import golden_document, golden_entry, golden_indices
from edgedigits.export.manifest import LABELS, ArtifactRecord, output_kind, preprocessing
from edgedigits.export.model_optimization import FinetuneOptions
from edgedigits.export.options import SHAPED_FORMATS, ExportOptions, Job
from edgedigits.markdown import table
from edgedigits.mcu_budget import OverBudget
from edgedigits.model_files import (
    DEFAULT_MODELS,
    DEFAULT_OUT,
    file_sha256,
    load_trained_model,
    model_path,
)
from edgedigits.model_files.shipped import materialize
from edgedigits.runtimes import quantize, runner_for
from edgedigits.runtimes.batching import (
    infer_as_deployed,
    infer_one_at_a_time,
    infer_raw_one_at_a_time,
)
from edgedigits.zoo import ModelSpec, get_spec, list_models
from edgedigits.zoo.pretrained import pretrained


@dataclass
class ExportReport:
    """All artifact records of one ``export`` call."""

    records: list[ArtifactRecord] = field(default_factory=list)

    @property
    def failed(self) -> list[ArtifactRecord]:
        return [r for r in self.records if not r.ok]

    @property
    def parity_failures(self) -> list[ArtifactRecord]:
        return [r for r in self.records if r.ok and r.parity and not r.parity["passed"]]

    def repaired_by(self, record: ArtifactRecord) -> ArtifactRecord | None:
        """The passing repaired file (``int8-fixed`` or ``int8-mixed``) that ``--auto-fix``
        made for a failing int8 one."""
        if record.recipe != Recipe.INT8.value:
            return None
        repairs = (Recipe.INT8_FIXED.value, Recipe.INT8_MIXED.value)
        return next((r for r in self.records if r.recipe in repairs
                     and r.model == record.model and r.format == record.format
                     and r.parity_passed), None)

    @property
    def all_good(self) -> bool:
        """No failed artifact, and no parity failure that was not repaired by --auto-fix."""
        return not self.failed and all(self.repaired_by(r) for r in self.parity_failures)

    def to_markdown(self) -> str:
        """One row per artifact: size, gzip size, ratio to float32 (same model and format),
        parity."""
        float_sizes = {(r.model, r.format): r.size_bytes for r in self.records
                       if r.ok and r.recipe == "float32"}
        rows = []
        for r in self.records:
            if not r.ok:
                rows.append([r.model, r.format, r.recipe, r.file, "", "", "", "", "",
                             f"FAILED: {r.reason}"])
                continue
            base = float_sizes.get((r.model, r.format))
            p = r.parity or {}
            rows.append([r.model, r.format, r.recipe, r.file, f"{r.size_bytes:,}",
                         f"{r.gzip_size_bytes:,}", f"{r.size_bytes / base:.3f}" if base else "",
                         f"{100 * p.get('agreement', 0):.2f}", f"{p.get('max_abs_diff', 0):.2e}",
                         "ok" if p.get("passed") else "PARITY FAIL"])
        lines = table(["model", "format", "recipe", "file", "size (bytes)", "gzip (bytes)",
                       "size / float32", "agreement %", "max abs diff", "status"], rows,
                      "llllrrrrrl")
        return "\n".join(lines) + "\n"


def _judged(result: Parity, tolerance: Tolerance) -> dict[str, Any]:
    """The figures of one comparison and the tolerance that judged them, for a parity record."""
    return {"agreement": result.agreement, "max_abs_diff": result.max_abs_diff,
            "accuracy": result.accuracy, "reference_accuracy": result.reference_accuracy,
            "tolerance": dataclasses.asdict(tolerance), "passed": result.passed,
            "failures": result.failures}


class _ModelExport:
    """Exports one model; holds what its recipes share (data, calibration, reference outputs).

    Making one is cheap: the trained model, its reference outputs, the lint and the artifact store
    are computed on first use, once, and shared by every recipe."""

    def __init__(self, spec: ModelSpec, out: Path, dataset: Dataset, options: ExportOptions,
                 command: str, log: Callable[[str], None], work: Path):
        self.spec, self.out, self.dataset, self.options = spec, out, dataset, options
        self.work = work  # files are made and checked here, then committed into the folder
        self.command, self.log = command, log
        self.folder = out / spec.name
        self.source_path = model_path(out, spec.name)
        # Layers int8-mixed leaves in float: the flag's, until --auto-fix picks its own.
        self.keep_float, self.keep_float_reason = options.keep_float_layers, "--keep-float"
        self._onnx_float: Any = None
        self._onnx_by_recipe: dict[Recipe, bytes] = {}
        self._usability: dict[Recipe, dict[str, Any]] = {}

    # -- shared inputs, computed once -----------------------------------------------------------
    @cached_property
    def base(self) -> Any:
        """The trained Keras model (safe mode, architecture checked)."""
        return load_trained_model(self.source_path, self.spec)

    @cached_property
    def source_sha256(self) -> str:
        return file_sha256(self.source_path)

    @cached_property
    def verify_x(self) -> np.ndarray:
        """The first ``verify_samples`` test images, preprocessed: what parity is judged on."""
        return self.spec.preprocess(self.dataset.test_images[:self._verify_count])

    @cached_property
    def verify_y(self) -> np.ndarray:
        return self.dataset.test_labels[:self._verify_count]

    @property
    def _verify_count(self) -> int:
        return min(self.options.verify_samples, self.dataset.num_test)

    @cached_property
    def base_verify(self) -> np.ndarray:
        """The trained model's outputs on ``verify_x``: the reference of float recipes."""
        return self._keras_outputs(self.base, self.verify_x)

    @cached_property
    def golden_x(self) -> np.ndarray:
        return self.spec.preprocess(self.dataset.test_images[golden_indices(self.dataset)])

    @cached_property
    def lint(self) -> list[Any]:
        """The known pitfalls of this model for the requested recipes, logged once."""
        from edgedigits.doctor.lint import lint_model

        c_recipes = {j.recipe.value for j in self.options.plan if j.format == Format.C}
        findings = [f for f in lint_model(self.base, [r.value for r in self.options.recipe_list])
                    if f.rule != "tflm-unsupported" or c_recipes & set(f.recipes)]
        for finding in findings:
            self.log(f"  lint: {finding.line()}")
        return findings

    @cached_property
    def store(self) -> ArtifactStore:
        golden_reference = self._keras_outputs(self.base, self.golden_x)
        return ArtifactStore(
            self.folder, self.spec, self._source(), self._extra(self.command),
            lambda entries: golden_document(self.spec.name, self.dataset, golden_reference,
                                            entries), self.log)

    def _source(self) -> dict[str, Any]:
        source = {"file": self.source_path.name, "sha256": self.source_sha256,
                  "params": int(self.base.count_params())}
        metrics = read_metrics(self.folder / "metrics.json")  # validated before any work
        if metrics and metrics.get("test_accuracy") is not None:
            source["test_accuracy"] = metrics["test_accuracy"]
        # Where the weights came from, so no report passes shipped weights off as trained ones
        # (or an imported file as either).
        source["weights"] = (metrics or {}).get("weights", "trained")
        if (metrics or {}).get("weights_sha256"):
            source["weights_sha256"] = metrics["weights_sha256"]
        return source

    def _extra(self, command: str) -> dict[str, Any]:
        extra: dict[str, Any] = {"command": command}
        if any(RECIPE_INFO[r].calibrated for r in self.options.recipe_list):
            extra["calibration"] = self.calibration.describe()
        finetune = self.options.finetune_options
        extra["finetune"] = {"epochs": finetune.epochs, "samples": finetune.samples,
                             "sparsity": finetune.sparsity,
                             "clusters": finetune.clusters,
                             "learning_rate_scale": model_optimization.FINETUNE_LR_SCALE,
                             "learning_rate": model_optimization.finetuning_spec(
                                 self.spec).recipe.learning_rate}
        extra["onnx_opset"] = self.options.opset
        return extra

    def _keras_outputs(self, model: Any, x: np.ndarray) -> np.ndarray:
        return self.spec.probabilities(model.predict(x, batch_size=1024, verbose=0))

    @cached_property
    def calibration(self) -> CalibrationSet:
        return calibration_set(self.spec, self.dataset, self.options.calibration_samples,
                               self.options.seed)

    def metadata(self, recipe: Recipe) -> dict[str, Any]:
        return {"model": self.spec.name, "recipe": recipe.value,
                "source_model_sha256": self.source_sha256, "output": output_kind(self.spec),
                "labels": LABELS}

    # -- per recipe ----------------------------------------------------------------------------
    def run(self) -> list[ArtifactRecord]:
        self.lint  # noqa: B018 - the pitfalls are logged before any conversion
        records = []
        plan = self.options.plan
        for recipe in self.options.recipe_list:
            records.extend(self._export_recipe(recipe, [j for j in plan if j.recipe == recipe]))
        return records

    def _mobile_usability(self, recipe: Recipe, onnx_bytes: bytes) -> dict[str, Any]:
        """ONNX Runtime's NNAPI/CoreML verdicts for this recipe's graph (once per recipe)."""
        if recipe not in self._usability:
            import tempfile

            with tempfile.TemporaryDirectory(prefix="edgedigits-usability-") as tmp:
                path = Path(tmp) / "model.onnx"
                path.write_bytes(onnx_bytes)
                self._usability[recipe] = to_ort.mobile_usability(path)
        return self._usability[recipe]

    def auto_fix(self, records: list[ArtifactRecord]) -> list[ArtifactRecord]:
        """``--auto-fix``: for int8 files that failed parity, export a repaired sibling, verified
        the same way: ``int8-fixed`` (BatchNormalization folded, exact in float) when the lint
        finds that pitfall, else ``int8-mixed`` with the layer the doctor ranks worst in float."""
        failing = [r for r in records if r.recipe == Recipe.INT8.value and r.ok and r.parity
                   and not r.parity["passed"]]
        if not failing or {Recipe.INT8_FIXED, Recipe.INT8_MIXED} & set(self.options.recipe_list):
            return []
        before = {r.format: {"file": r.file, "agreement": r.parity["agreement"],
                             "accuracy": r.parity["accuracy"]} for r in failing}
        if len(before) < len(failing):  # one repair per format: the first failing file's
            failing = [next(r for r in failing if r.format == f) for f in before]
        formats = [Format(f) for f in before]
        if any(f.rule == "bn-not-foldable" for f in self.lint):
            recipe = Recipe.INT8_FIXED  # the lint's diagnosis; exact in float
        else:  # the doctor's: keep the layer that adds the most noise in float
            from edgedigits.doctor import diagnose

            report = diagnose(self.spec.name, recipe="int8", formats=[f.value for f in formats
                                                                     if f != Format.C],
                              out=self.out, dataset=self.dataset, log=self.log)
            worst = [e for e in report.ranked(report.formats[0].format)
                     if e.layer != "(input)"][0]
            # A float op's output is still quantized for an int8 consumer: keep the next layer
            # with weights float too, so the worst layer's output never becomes int8.
            names = [layer.name for layer in self.base.layers]
            consumer = next((layer.name for layer in self.base.layers[names.index(worst.layer)
                                                                      + 1:] if layer.weights),
                            None)
            self.keep_float = [worst.layer] + ([consumer] if consumer else [])
            self.keep_float_reason = (
                f"edgedigits doctor: {worst.layer} adds the most quantization noise "
                f"({worst.finding})" + (f"; {consumer}, which consumes its output, is kept "
                                        "float so that output is never int8" if consumer else ""))
            recipe = Recipe.INT8_MIXED
        jobs = [Job(Format(r.format), recipe, record_variant(r)) for r in failing]
        fixed = self._export_recipe(recipe, jobs, {"auto_fix_of": before})
        for r in fixed:
            if r.ok and r.parity:
                was = before[r.format]
                self.log(f"  auto-fix: {was['file']} agreement {100 * was['agreement']:.2f}% -> "
                         f"{r.file} {100 * r.parity['agreement']:.2f}%")
        return fixed

    def _keras_for(self, recipe: Recipe) -> tuple[Any, dict[str, Any]]:
        if recipe == Recipe.INT8_FIXED:
            from edgedigits.doctor.fixes import assert_equivalent, fold_batchnorm

            rewrite = fold_batchnorm(load_trained_model(self.source_path, self.spec))
            diff = assert_equivalent(self.base, rewrite.model, self.verify_x[:500])
            return rewrite.model, {
                "fixes": rewrite.changes or ["none needed: no BatchNormalization to fold"],
                "rewrite_max_abs_diff": float(f"{diff:.3g}")}
        if not RECIPE_INFO[recipe].finetuned:
            return self.base, {}
        fresh = load_trained_model(self.source_path, self.spec)  # tfmot would mutate self.base
        optimized = model_optimization.optimize(recipe, fresh, self.spec, self.dataset,
                                                self.options.finetune_options)
        return optimized.model, optimized.details

    def _lint_for(self, recipe: Recipe) -> list[str]:
        return [f"{f.severity}: {f.layer}: {f.message}" for f in self.lint
                if recipe.value in f.recipes]

    def _export_recipe(self, recipe: Recipe, jobs: list[Job],
                       extra: dict[str, Any] | None = None) -> list[ArtifactRecord]:
        started = time.perf_counter()
        try:
            keras_model, details = self._keras_for(recipe)
            details.update(extra or {})
            if recipe == Recipe.INT8_MIXED:
                details["keep_float"] = {"layers": self.keep_float,
                                         "reason": self.keep_float_reason}
            if self._lint_for(recipe):
                details["lint"] = self._lint_for(recipe)
            # A rewrite is float-equivalent: its promise is parity with the trained model.
            reference = (self.base_verify if keras_model is self.base
                         or recipe == Recipe.INT8_FIXED
                         else self._keras_outputs(keras_model, self.verify_x))
        except Exception as exc:  # noqa: BLE001 - one recipe's failure must not stop the rest
            _raise_if_disk_full(exc, self.folder)
            reason = f"{type(exc).__name__}: {first_line(exc)}"
            errors = [line for line in self._lint_for(recipe) if line.startswith("error")]
            if errors:
                reason += f" (lint: {errors[0].removeprefix('error: ')})"
            self.log(f"  {self.spec.name} {recipe.value}: FAILED ({reason})")
            return [self._failed(j, reason) for j in jobs]
        records = []
        tflite_by_variant: dict[Variant, bytes] = {}  # a .tflite and its C array share bytes
        for job in jobs:
            fmt, name = job.format, artifact_name(self.spec.name, job.format, recipe, job.variant)
            tflite_bytes = None
            try:
                if fmt in SHAPED_FORMATS:
                    if job.variant not in tflite_by_variant:
                        tflite_by_variant[job.variant] = self._tflite_bytes(keras_model, recipe,
                                                                            job.variant)
                    tflite_bytes = tflite_by_variant[job.variant]
                    if recipe == Recipe.PRUNED:
                        details["tflite_weight_sparsity"] = round(
                            tflite_flatbuffer.weight_sparsity(tflite_bytes), 4)
                record = self._write_and_verify(job, name, keras_model, tflite_bytes,
                                                reference, dict(details))
            except Exception as exc:  # noqa: BLE001
                _raise_if_disk_full(exc, self.folder)
                reason = (first_line(exc) if isinstance(exc, OverBudget)  # a correct file that
                          else f"{type(exc).__name__}: {first_line(exc)}")  # does not fit
                self.log(f"  {name}: FAILED ({reason})")
                record = self._failed(job, reason)
            records.append(record)
        self.log(f"  {self.spec.name} {recipe.value}: {', '.join(r.file for r in records if r.ok)}"
                 f" ({time.perf_counter() - started:.1f}s)")
        return records

    def _failed(self, job: Job, reason: str) -> ArtifactRecord:
        """A failed attempt: recorded, unless a good earlier file and record exist (kept as is)."""
        record = ArtifactRecord(model=self.spec.name,
                                file=artifact_name(self.spec.name, job.format, job.recipe,
                                                   job.variant),
                                format=job.format.value, recipe=job.recipe.value,
                                status="failed", reason=reason)
        if self.store.fail(record):
            record.reason = f"{reason} (the earlier {record.file} and its record are kept)"
        return record

    def _tflite_bytes(self, keras_model: Any, recipe: Recipe, variant: Variant) -> bytes:
        calibration = self.calibration if RECIPE_INFO[recipe].calibrated else None
        output = output_kind(self.spec)  # the signature's output name: what it holds
        if recipe == Recipe.INT8_MIXED:
            raw = to_tflite.convert_keeping_float(keras_model, calibration, self.keep_float,
                                                  variant, output)
        else:
            raw = to_tflite.convert(keras_model, recipe, calibration, variant, output)
        entries = {
            "edgedigits.labels": "\n".join(LABELS).encode(),
            "edgedigits.preprocessing": json.dumps(preprocessing(self.spec)).encode(),
            "edgedigits.model": json.dumps(self.metadata(recipe)).encode(),
        }
        return tflite_flatbuffer.embed(raw, entries)

    def _write_and_verify(self, job: Job, name: str, keras_model: Any,
                          tflite_bytes: bytes | None, reference: np.ndarray,
                          details: dict[str, Any]) -> ArtifactRecord:
        """Stage the file(s) beside their final names, verify them there, then let the store
        rename them into place with their records: a failure anywhere leaves the old file.
        What each format writes and how it is checked: the dispatch tables below."""
        fmt, recipe = job.format, job.recipe
        files = self._FILES[fmt](self, recipe, name, keras_model, tflite_bytes, details)
        payload = files[name]
        batch = (job.variant.batch if fmt in SHAPED_FORMATS else self.options.onnx_batch)
        record = ArtifactRecord(
            model=self.spec.name, file=name, format=fmt.value, recipe=recipe.value, status="ok",
            sha256=hashlib.sha256(payload).hexdigest(), size_bytes=len(payload),
            gzip_size_bytes=len(gzip.compress(payload, compresslevel=9, mtime=0)),
            output_kind=output_kind(self.spec), details=details,
            reproducible=fmt != Format.ORT,
            io=job.variant.io.value if fmt in SHAPED_FORMATS else IO.FLOAT32.value,
            batch="dynamic" if batch is None else batch,
            targets=[t.value for t in targets_for(fmt, job.variant)])
        with contextlib.ExitStack() as stack:
            staged = {n: stack.enter_context(atomic.StagedFile(self.work / n)).write_bytes(b)
                      for n, b in files.items()}
            check = self._CHECKS.get(fmt, _ModelExport._check_in_its_runtime)
            golden = check(self, record, staged[name].path, job, reference, keras_model,
                           tflite_bytes)
            self.store.land(record, golden, {n: f.path for n, f in staged.items()})
        return record

    # -- what each format writes: {file name: bytes}, the artifact under its own name --

    def _tflite_files(self, recipe, name, keras_model, tflite_bytes, details) -> dict:
        return {name: tflite_bytes}

    def _onnx_files(self, recipe, name, keras_model, tflite_bytes, details) -> dict:
        onnx_bytes = self._onnx_bytes(recipe, keras_model)
        details.update(batch=self.options.onnx_batch or "dynamic",
                       mobile_usability=self._mobile_usability(recipe, onnx_bytes))
        return {name: onnx_bytes}

    def _ort_files(self, recipe, name, keras_model, tflite_bytes, details) -> dict:
        """The ORT conversion of this recipe's ONNX bytes."""
        onnx_bytes = self._onnx_files(recipe, name, keras_model, tflite_bytes, details)[name]
        details.update(optimization_style=self.options.ort_style, onnx_sha256=hashlib.sha256(
            onnx_bytes).hexdigest(), not_reproducible=to_ort.NOT_REPRODUCIBLE)
        return {name: to_ort.convert(onnx_bytes, self.options.ort_style)}

    def _c_files(self, recipe, name, keras_model, tflite_bytes, details) -> dict:
        """The TFLite bytes as a source/header pair, for TFLM recipes that load there."""
        header_name = name.removesuffix(".cc") + ".h"
        symbol = to_c.symbol_name(name.removesuffix(".cc"))
        tflm = to_c.tflm_facts(tflite_bytes)  # the array must run where it is meant to
        if not tflm["loads"]:
            raise RuntimeError(f"TensorFlow Lite Micro cannot run it: {tflm['reason']}")
        over = self.options.budget.failures(tflm["arena_bytes"], len(tflite_bytes))
        if over:
            raise OverBudget(f"does not fit the microcontroller budget: {'; '.join(over)}")
        tflm["recommended_arena_bytes"] = to_c.recommended_arena(tflm["arena_bytes"])
        details["tflm"] = tflm
        header, source = to_c.c_source(
            tflite_bytes, symbol, header_name,
            f"{self.spec.name} {recipe.value} TFLite model ({len(tflite_bytes)} bytes)", tflm,
            (float(self.spec.input_scale), float(self.spec.input_offset)))
        header_bytes = header.encode()
        details.update(header=header_name, header_sha256=hashlib.sha256(header_bytes).hexdigest(),
                       symbol=symbol, tflite_bytes=len(tflite_bytes),
                       tflite_sha256=hashlib.sha256(tflite_bytes).hexdigest())
        return {name: source.encode(), header_name: header_bytes}

    # -- how each format is verified, staged; returns its golden entry --

    def _check_in_its_runtime(self, record, path, job, reference, keras_model, tflite_bytes):
        golden = self._verify(record, path, job.recipe, reference)
        record.interface = app_contract.interface(record.format, path, record.inputs,
                                                  record.outputs, self.spec)
        return golden

    def _check_ort(self, record, path, job, reference, keras_model, tflite_bytes):
        """Like every file, plus: the same outputs as the .onnx it was converted from."""
        recipe = job.recipe
        golden = self._verify(record, path, recipe, reference)
        record.interface = app_contract.interface(
            record.format, path, record.inputs, record.outputs, self.spec,
            onnx_bytes=self._onnx_bytes(recipe, keras_model))
        with atomic.StagedFile(self.work / artifact_name(self.spec.name, Format.ONNX,
                                                           recipe)) as onnx_file:
            onnx_file.write_bytes(self._onnx_bytes(recipe, keras_model))
            record.details["onnx_max_abs_diff"] = to_ort.check_conversion(
                path, onnx_file.path, self.verify_x)
        return golden

    def _check_c(self, record, path, job, reference, keras_model, tflite_bytes):
        """The array must be the TFLite bytes; tensors as LiteRT reads them, parity and golden
        vectors in TFLM, where the array runs."""
        recipe = job.recipe
        if to_c.parse_c_array(path.read_text()) != tflite_bytes:
            raise RuntimeError("C array does not round-trip to the TFLite bytes")
        with atomic.StagedFile(self.work / artifact_name(self.spec.name, Format.TFLITE,
                                                           recipe, job.variant)) as check:
            litert_entry = self._verify(record, check.write_bytes(tflite_bytes).path, recipe,
                                        reference)  # tensors as the flatbuffer declares them
            record.parity, facts, golden = self._verify_in_tflm(
                record.file, check.path, recipe, reference, litert_entry)
        record.details["tflm"].update(facts)
        record.interface = app_contract.interface(record.format, path, record.inputs,
                                                  record.outputs, self.spec,
                                                  tflite_bytes=tflite_bytes)
        return golden

    _FILES = {Format.TFLITE: _tflite_files, Format.ONNX: _onnx_files, Format.ORT: _ort_files,
              Format.C: _c_files}
    _CHECKS = {Format.ORT: _check_ort, Format.C: _check_c}

    def _verify_in_tflm(self, name: str, path: Path, recipe: Recipe, reference: np.ndarray,
                        litert_entry: dict[str, Any]
                        ) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        """Verify a C array where it runs: TensorFlow Lite Micro, one image per ``invoke()``.

        Returns its parity record (the verify images against the Keras reference, judged by the
        recipe's tolerance, as every artifact is), the facts for ``details.tflm``, and its golden
        entry, computed in TFLM because that is what the firmware computes.

        Distances to LiteRT on the same bytes are recorded, not judged: TFLM's kernels are ports
        of TFLite's reference kernels but not bit-identical to them everywhere (seen: 2 int8
        steps on one CNN's softmax), and XNNPACK requantizes differently again (one int8 step
        in coarse QAT logits moves a softmax output by 7 steps), so a firmware test against
        LiteRT's vectors could fail on a correct device.
        """
        from edgedigits.runtimes.litert import LiteRTRunner
        from edgedigits.runtimes.tflm import TFLMRunner

        info = RECIPE_INFO[recipe]
        with TFLMRunner(path) as runner:
            outputs = self.spec.probabilities(runner.infer(self.verify_x))  # one per invoke()
            got, got_raw = self._golden_outputs(runner)
        parity = {"runtime": "tflm", **self._parity(outputs, reference, info, batch=1)}
        with LiteRTRunner(path, reference_kernels=True) as runner:
            want, want_raw = self._golden_outputs(runner)
        xnnpack = np.asarray(litert_entry["expected"])
        facts = {
            "golden_runtime": "tflm",
            "reference_kernels_max_abs_diff": float(f"{np.max(np.abs(got - want)):.3g}"),
            "reference_kernels_max_raw_diff": (
                int(np.max(np.abs(got_raw.astype(np.int64) - want_raw)))
                if got_raw is not None else None),
            "xnnpack_max_abs_diff": float(f"{np.max(np.abs(got - xnnpack)):.3g}"),
            "xnnpack_same_class": bool(np.array_equal(got.argmax(1), xnnpack.argmax(1))),
        }
        if facts["xnnpack_max_abs_diff"] > litert_entry["atol"]:
            self.log(f"  {name}: TFLM's golden outputs are {facts['xnnpack_max_abs_diff']:g} "
                     f"from LiteRT's XNNPACK ones ({facts['reference_kernels_max_abs_diff']:g} "
                     f"from its reference kernels); the C array's golden entry holds TFLM's")
        entry = golden_entry(got, got_raw, litert_entry["sha256"], litert_entry["atol"],
                             runtime="tflm")
        return parity, facts, entry

    def _onnx_bytes(self, recipe: Recipe, keras_model: Any) -> bytes:
        """ONNX recipes start from the float graph of the model they convert: the trained one
        (float32, int8, dynamic; converted once) or a rewrite of it (int8-fixed). Made once per
        recipe: the .onnx and the .ort of a recipe share them."""
        if recipe not in self._onnx_by_recipe:
            self._onnx_by_recipe[recipe] = self._make_onnx_bytes(recipe, keras_model)
        return self._onnx_by_recipe[recipe]

    def _make_onnx_bytes(self, recipe: Recipe, keras_model: Any) -> bytes:
        import onnx

        if keras_model is self.base:
            if self._onnx_float is None:
                self._onnx_float = to_onnx.keras_to_onnx(
                    self.base, self.spec.input_shape, self.options.opset, self.options.onnx_batch)
            source = self._onnx_float
        else:
            source = to_onnx.keras_to_onnx(keras_model, self.spec.input_shape, self.options.opset,
                                           self.options.onnx_batch)
        proto = onnx.ModelProto()
        proto.CopyFrom(source)
        if recipe != Recipe.FLOAT32:
            proto = to_onnx.quantize(proto, recipe, self.calibration,
                                     self.keep_float if recipe == Recipe.INT8_MIXED else [],
                                     self.options.onnx_batch)
        entries = {"edgedigits.labels": "\n".join(LABELS),
                   "edgedigits.preprocessing": json.dumps(preprocessing(self.spec)),
                   "edgedigits.model": json.dumps(self.metadata(recipe))}
        return to_onnx.with_metadata(proto, entries)

    def _parity(self, outputs: np.ndarray, reference: np.ndarray, info: RecipeInfo, batch: int
                ) -> dict[str, Any]:
        """The export-time parity record, judged by the contract's tolerance for the recipe
        (``info.tolerance``) against the *trained* Keras model on the verify images: the same
        promise, against the same model, that ``bench`` judges. A fine-tuned recipe's file must
        also be a faithful conversion of its fine-tuned model (``reference``), by the tolerance
        of the recipe it converts as (``conversion``)."""
        result = compare(outputs, self.base_verify, self.verify_y, info.tolerance)
        parity = {"images": int(len(outputs)),
                  "batch": batch,  # 1 when the file's outputs depend on the batch size
                  "reference": "trained Keras model", **_judged(result, info.tolerance)}
        if info.converts_as is not None:
            tolerance = RECIPE_INFO[info.converts_as].tolerance
            conversion = compare(outputs, reference, self.verify_y, tolerance)
            parity["conversion"] = {"reference": "fine-tuned Keras model",
                                    **_judged(conversion, tolerance)}
            parity["passed"] = result.passed and conversion.passed
            parity["failures"] = (result.failures
                                  + [f"conversion: {f}" for f in conversion.failures])
        return parity

    def _verify(self, record: ArtifactRecord, path: Path, recipe: Recipe,
                reference: np.ndarray) -> dict[str, Any]:
        """Run the file in its runtime: parity on test images, tensors; returns its golden entry."""
        info = RECIPE_INFO[recipe]
        with runner_for(path) as runner:
            record.inputs = [t.to_json() for t in runner.inputs]
            record.outputs = [t.to_json() for t in runner.outputs]
            deployed = infer_as_deployed(runner, self.verify_x)
            outputs = self.spec.probabilities(deployed.outputs)
            golden, raw = self._golden_outputs(runner)
        record.parity = self._parity(outputs, reference, info, deployed.batch)
        return golden_entry(golden, raw, record.sha256, info.golden_atol)

    def _golden_outputs(self, runner: Any) -> tuple[np.ndarray, np.ndarray | None]:
        """Golden vectors are what an app's test sees: one image per call, in this runtime.
        Returns the outputs and, for a quantized output tensor, its raw integers."""
        raw = infer_raw_one_at_a_time(runner, quantize(self.golden_x, runner.inputs[0]))
        quantized = runner.outputs[0].scale is not None
        return infer_one_at_a_time(runner, self.golden_x), raw if quantized else None

def export(names: Sequence[str] = (), *, all_models: bool = False,
           out: str | Path = DEFAULT_OUT, data: str | Path | None = None,
           options: ExportOptions | None = None, command: str | None = None,
           log: Callable[[str], None] = print, **settings: Any) -> ExportReport:
    """Export trained zoo models; see the module docstring.

    Args:
        names: zoo model names; with none (and not ``all_models``), every model already
            trained under ``out``.
        all_models: every zoo model.
        out: the folder with the trained models; artifacts land in ``out/<model>/``.
        data: the data source (default: the embedded MNIST).
        options: what to export and how (``ExportOptions``); or pass its fields as keywords
            (``formats="tflite", recipes="int8"``), not both.
        command: the command line recorded in the manifests (the CLI passes its own).
        log: where progress lines go.

    Returns:
        The ``ExportReport``: one ``ArtifactRecord`` per file attempted.

    Every option, output folder, existing manifest and trained model is checked before the
    first conversion. Untrained models are an error naming the train command, unless
    ``train_missing`` trains them first with their recipe. With ``auto_fix``, an int8 file that
    fails parity gets a repaired sibling (see ``_ModelExport.auto_fix``). A C array whose TFLite
    bytes (flash) or measured TFLM arena exceed ``budget`` is a failed record.
    """
    if options is not None and settings:
        raise TypeError("export(): give options=ExportOptions(...) or its fields as keywords, "
                        "not both")
    options = options or ExportOptions(**settings)
    options.validate()
    fmts, recs, keep_float = options.format_list, options.recipe_list, options.keep_float_layers
    from edgedigits.model_import import import_files  # a .keras/.h5 named: import it first

    names = import_files(names, out=out, data=data, log=log)
    chosen = _chosen_models(names, all_models, out)
    missing = [n for n in chosen if not model_path(out, n).is_file()]
    unshipped = [n for n in missing if pretrained(n) is None]
    if unshipped and not options.train_missing:
        raise ModelFileError(
            f"not trained yet: {', '.join(unshipped)} (no {model_path(out, unshipped[0])}, and no "
            f"shipped weights); run 'edgedigits train {' '.join(unshipped)} --out {out}' first, "
            "or add --train")
    out = check_export_folders(out, chosen)
    dataset = load_dataset(data)
    _check_sample_counts(dataset, options.calibration_samples, options.verify_samples,
                         options.finetune_options)
    for name in chosen:
        if name not in missing:  # the right architecture, and the layers --keep-float names
            _check_keep_float(keep_float, load_trained_model(model_path(out, name),
                                                             get_spec(name)))
    if missing and options.train_missing:
        from edgedigits.training import train  # --train: the trainer, only when asked for

        train(missing, out=out, data=data, seed=options.seed, log=log)
    elif missing:  # the shipped weights, saying so (metrics.json records weights: pretrained)
        for name in missing:
            materialize(out, name, log)
    if missing:
        for name in missing:
            _check_keep_float(keep_float, load_trained_model(model_path(out, name),
                                                             get_spec(name)))
    command = command or "python: edgedigits.export(" + ", ".join(
        [repr(list(chosen)), f"formats={[f.value for f in fmts]}",
         f"recipes={[r.value for r in recs]}"]) + ")"
    report = ExportReport()
    workers = export_workers(options, len(chosen))
    heading = f"{', '.join(f.value for f in fmts)} x {', '.join(r.value for r in recs)}"
    if workers == 1:
        for k, name in enumerate(chosen, 1):
            log(f"[{k}/{len(chosen)}] exporting {name}: {heading}")
            report.records.extend(_export_model(name, out, dataset, options, command, log))
        return report
    log(f"exporting {len(chosen)} models in {workers} processes (one model each; --jobs 1 for "
        f"one): {heading}")
    for records in _in_processes(chosen, workers, out, data, options, command, log):
        report.records.extend(records)
    return report


def _raise_if_disk_full(exc: Exception, folder: Path) -> None:
    """A full disk is not one recipe's failure: the export stops, saying what was kept (each
    file landed before it is complete and recorded; the folder commit that failed changed
    nothing)."""
    if isinstance(exc, DiskFullError):
        raise exc
    if is_disk_full(exc):
        raise DiskFullError(f"{folder}: no space left on the device while making an artifact; "
                            "the folder keeps the files exported before it, each complete and "
                            "recorded") from None


def record_variant(record: ArtifactRecord) -> Variant:
    """The I/O and batch a record says its file has (ONNX/ORT: the defaults)."""
    if record.format not in (f.value for f in SHAPED_FORMATS):
        return Variant().for_recipe(Recipe(record.recipe))
    batch = None if record.batch == "dynamic" else record.batch
    return Variant(IO(record.io or IO.INT8.value), batch)


def export_workers(options: ExportOptions, models: int) -> int:
    """How many models to export at once: ``options.jobs``, or by default one process per CPU
    core when several models need fine-tuning. tf_keras' fine-tuning of these small models keeps
    ~1.2 of 2 cores busy (measured: 86 s of CPU in 73 s for six fine-tunes), so two models at
    once nearly halve the wall time; conversions and checks are short and stay in-process."""
    if options.jobs is not None:
        return max(1, min(options.jobs, models))
    if models < 2 or not any(RECIPE_INFO[r].finetuned for r in options.recipe_list):
        return 1
    return max(1, min(os.cpu_count() or 1, models))


def _export_model(name: str, out: Path, dataset: Dataset, options: ExportOptions, command: str,
                  log: Callable[[str], None]) -> list[ArtifactRecord]:
    with folder_commit.work_dir(out / name) as work:
        job = _ModelExport(get_spec(name), out, dataset, options, command, log, work)
        return _run_model_export(job, options)


def _run_model_export(job: _ModelExport, options: ExportOptions) -> list[ArtifactRecord]:
    records = job.run()
    if options.auto_fix:
        records += job.auto_fix(records)
    job.store.flush()
    return records


def _in_processes(chosen: list[str], workers: int, out: Path, data: str | Path | None,
                  options: ExportOptions, command: str, log: Callable[[str], None]):
    """Export each model in a worker process (spawned: TensorFlow does not survive a fork);
    their log lines stream back through a queue as they are written. Yields each model's
    records in ``chosen`` order. Each model folder is written by one process only, with the
    same atomic steps as in-process, so a killed worker leaves its folder as consistent."""
    import multiprocessing
    import threading
    from concurrent.futures import ProcessPoolExecutor

    context = multiprocessing.get_context("spawn")
    lines = context.Queue()
    printer = threading.Thread(target=lambda: [log(line) for line in iter(lines.get, None)],
                               daemon=True)
    printer.start()
    try:
        with ProcessPoolExecutor(workers, mp_context=context, initializer=_worker_start,
                                 initargs=(lines,)) as pool:
            futures = [pool.submit(_worker_export, name, k, len(chosen), str(out), data, options,
                                   command) for k, name in enumerate(chosen, 1)]
            for future in futures:
                yield future.result()
    finally:
        lines.put(None)
        printer.join(timeout=10)


_WORKER_LOG: Any = None  # in a worker process: the queue its log lines go to


def _worker_start(lines: Any) -> None:
    global _WORKER_LOG
    _WORKER_LOG = lines


def _worker_export(name: str, k: int, total: int, out: str, data: str | Path | None,
                   options: ExportOptions, command: str) -> list[ArtifactRecord]:
    from edgedigits.model_import import load_imported

    if name not in list_models():
        load_imported(out, name)  # registers it in this process, as import_files did in the parent
    log = _WORKER_LOG.put
    log(f"[{k}/{total}] exporting {name} (process {os.getpid()})")
    return _export_model(name, Path(out), load_dataset(data), options, command, log)


def _check_keep_float(keep_float: list[str], model: Any) -> None:
    layers = [layer.name for layer in model.layers]
    unknown = [k for k in keep_float if k not in layers]
    if unknown:
        raise UsageError(f"--keep-float {','.join(unknown)}: no such layer in {model.name}; its "
                         f"layers: {', '.join(layers)}")


def _chosen_models(names: Sequence[str], all_models: bool, out: str | Path) -> list[str]:
    """The named models; or, with no names, every model already trained (or imported) under
    ``out``."""
    from edgedigits.model_import import imported_names, resolve_names

    if names or all_models:
        return resolve_names(names, all_models, out)
    trained = [n for n in list_models() if model_path(out, n).is_file()]
    imported = [n for n in imported_names(out) if model_path(out, n).is_file()]
    trained += resolve_names(imported, out=out) if imported else []
    if not trained and all(pretrained(n) for n in DEFAULT_MODELS):
        return list(DEFAULT_MODELS)  # nothing trained there: the default models, pretrained
    if not trained:
        raise ModelFileError(
            f"--out {out}: no trained models there to export; train the default ones first: "
            f"'edgedigits train {' '.join(DEFAULT_MODELS)} --out {out}' (or name models and "
            "add --train)")
    return trained


def _check_sample_counts(dataset: Dataset, calibration_samples: int, verify_samples: int,
                         finetune: FinetuneOptions) -> None:
    for flag, value, available, split in (
            ("--calibration-samples", calibration_samples, dataset.num_train, "training"),
            ("--finetune-samples", finetune.samples, dataset.num_train, "training"),
            ("--verify-samples", verify_samples, dataset.num_test, "test")):
        if value is not None and value > available:
            raise UsageError(f"{flag} {value}: {dataset.source} has only {available} {split} "
                             f"images")
