"""``export()``: every requested model x format x recipe, verified, with manifest and golden
vectors.

Per model, per recipe, four stages, one module each:

1. **optimize** (``optimize.py``): the Keras model the recipe converts: the trained one, a
   fine-tuned copy (QAT, pruning, clustering) or a float-equivalent rewrite (``int8-fixed``);
2. **convert** (``convert.py``): its bytes per format, metadata embedded;
3. **check** (``check.py``): each file staged under a temporary name, run where apps run it,
   judged against the trained model by the recipe's tolerance, golden vectors computed;
4. **record** (``record.py``, ``artifact_store.py``): the file renamed into place with its
   manifest record and golden entry, in one folder commit.

What the recipes of one model share is computed once (``model_context.py``). A recipe that
fails (say, a layer the quantizer does not support) becomes a failed record with the reason,
leaving any earlier good file and record as they were; the others go on. This module holds the
loop over models (in-process or one process per model) and over recipes.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from edgedigits import atomic, folder_commit
from edgedigits.contract.recipes import RECIPE_INFO, Format, Recipe, artifact_name
from edgedigits.contract.targets import IO, Variant
from edgedigits.data import Dataset, load_dataset
from edgedigits.errors import DiskFullError, ModelFileError, first_line, is_disk_full
from edgedigits.export import optimize, tflite_flatbuffer
from edgedigits.export.artifact_store import ArtifactStore
from edgedigits.export.check import Checker
from edgedigits.export.convert import Converter
from edgedigits.export.manifest import ArtifactRecord
from edgedigits.export.model_context import ModelContext
from edgedigits.export.options import (
    SHAPED_FORMATS,
    ExportOptions,
    Job,
)
from edgedigits.export.preflight import (
    check_keep_float,
    check_sample_counts,
    chosen_models,
    fit_default_samples,
)
from edgedigits.export.record import failed_record, new_record, open_store
from edgedigits.export.report import ExportReport
from edgedigits.export.workspace import Workspace
from edgedigits.mcu_budget import OverBudget
from edgedigits.model_files import (
    DEFAULT_OUT,
    load_trained_model,
    model_path,
)
from edgedigits.model_files.shipped import materialize
from edgedigits.zoo import get_spec, list_models
from edgedigits.zoo.pretrained import pretrained


class _ModelExport:
    """One model's export: for each recipe, the four stages in order, each file landing on its
    own. ``optimize`` gives the Keras model the recipe converts; ``convert`` its bytes per
    format; ``check`` runs them where apps run them and judges them; ``record`` lands each
    checked file with its manifest record and golden entry. A recipe or file that fails becomes
    a failed record with the reason; the rest go on."""

    def __init__(self, ctx: ModelContext):
        self.ctx = ctx
        self.converter = Converter(self.ctx)
        self.checker = Checker(self.ctx, self.converter)

    @cached_property
    def store(self) -> ArtifactStore:
        return open_store(self.ctx)

    def run(self) -> list[ArtifactRecord]:
        self.ctx.lint  # noqa: B018 - the pitfalls are logged before any conversion
        plan = self.ctx.options.plan
        return [
            record
            for recipe in self.ctx.options.recipe_list
            for record in self._export_recipe(recipe, [j for j in plan if j.recipe == recipe])
        ]

    def auto_fix(self, records: list[ArtifactRecord]) -> list[ArtifactRecord]:
        """``--auto-fix``: for int8 files that failed parity, export a repaired sibling (the
        recipe ``optimize.choose_repair`` picks), verified the same way."""
        failing = [
            r
            for r in records
            if r.recipe == Recipe.INT8.value and r.ok and r.parity and not r.parity["passed"]
        ]
        if not failing or {Recipe.INT8_FIXED, Recipe.INT8_MIXED} & set(
            self.ctx.options.recipe_list
        ):
            return []
        before = {
            r.format: {
                "file": r.file,
                "agreement": r.parity["agreement"],
                "accuracy": r.parity["accuracy"],
            }
            for r in failing
        }
        if len(before) < len(failing):  # one repair per format: the first failing file's
            failing = [next(r for r in failing if r.format == f) for f in before]
        recipe = optimize.choose_repair(self.ctx, [Format(f) for f in before])
        jobs = [Job(Format(r.format), recipe, record_variant(r)) for r in failing]
        fixed = self._export_recipe(recipe, jobs, {"auto_fix_of": before})
        for r in fixed:
            if r.ok and r.parity:
                was = before[r.format]
                self.ctx.log(
                    f"  auto-fix: {was['file']} agreement "
                    f"{100 * was['agreement']:.2f}% -> {r.file} "
                    f"{100 * r.parity['agreement']:.2f}%"
                )
        return fixed

    def _export_recipe(
        self, recipe: Recipe, jobs: list[Job], extra: dict[str, Any] | None = None
    ) -> list[ArtifactRecord]:
        ctx, started = self.ctx, time.perf_counter()
        try:  # stage 1, optimize: the Keras model this recipe converts
            keras_model, details = optimize.keras_for(ctx, recipe)
            details.update(extra or {})
            if recipe == Recipe.INT8_MIXED:
                details["keep_float"] = {"layers": ctx.keep_float, "reason": ctx.keep_float_reason}
            if ctx.lint_for(recipe):
                details["lint"] = ctx.lint_for(recipe)
            reference = optimize.conversion_reference(ctx, recipe, keras_model)
        except Exception as exc:  # noqa: BLE001 - one recipe's failure must not stop the rest
            _raise_if_disk_full(exc, ctx.folder)
            reason = f"{type(exc).__name__}: {first_line(exc)}"
            errors = [line for line in ctx.lint_for(recipe) if line.startswith("error")]
            if errors:
                reason += f" (lint: {errors[0].removeprefix('error: ')})"
            ctx.log(f"  {ctx.spec.name} {recipe.value}: FAILED ({reason})")
            return [self._failed(j, reason) for j in jobs]
        records = []
        tflite_by_variant: dict[Variant, bytes] = {}  # a .tflite and its C array share bytes
        for job in jobs:
            name = artifact_name(ctx.spec.name, job.format, recipe, job.variant)
            try:
                tflite_bytes = None
                if job.format in SHAPED_FORMATS:
                    if job.variant not in tflite_by_variant:
                        tflite_by_variant[job.variant] = self.converter.tflite_bytes(
                            keras_model, recipe, job.variant
                        )
                    tflite_bytes = tflite_by_variant[job.variant]
                    if recipe == Recipe.PRUNED:
                        details["tflite_weight_sparsity"] = round(
                            tflite_flatbuffer.weight_sparsity(tflite_bytes), 4
                        )
                records.append(
                    self._convert_check_record(
                        job, name, keras_model, tflite_bytes, reference, dict(details)
                    )
                )
            except Exception as exc:  # noqa: BLE001
                _raise_if_disk_full(exc, ctx.folder)
                reason = (
                    first_line(exc)
                    if isinstance(exc, OverBudget)  # a correct file that
                    else f"{type(exc).__name__}: {first_line(exc)}"
                )  # does not fit
                ctx.log(f"  {name}: FAILED ({reason})")
                records.append(self._failed(job, reason))
        ctx.log(
            f"  {ctx.spec.name} {recipe.value}: {', '.join(r.file for r in records if r.ok)}"
            f" ({time.perf_counter() - started:.1f}s)"
        )
        return records

    def _convert_check_record(
        self,
        job: Job,
        name: str,
        keras_model: Any,
        tflite_bytes: bytes | None,
        reference: np.ndarray,
        details: dict[str, Any],
    ) -> ArtifactRecord:
        """Stages 2-4 for one file: convert, stage the file(s) beside their final names, check
        them there, then let the store rename them into place with their records: a failure
        anywhere leaves the old file."""
        files = self.converter.files(
            job.format, job.recipe, name, keras_model, tflite_bytes, details
        )
        record = new_record(self.ctx, job, name, files[name], details)
        with contextlib.ExitStack() as stack:
            staged = {
                n: stack.enter_context(atomic.StagedFile(self.ctx.work / n)).write_bytes(b)
                for n, b in files.items()
            }
            golden = self.checker.check(
                record, staged[name].path, job, reference, keras_model, tflite_bytes
            )
            self.store.land(record, golden, {n: f.path for n, f in staged.items()})
        return record

    def _failed(self, job: Job, reason: str) -> ArtifactRecord:
        """A failed attempt: recorded, unless a good earlier file and record exist (kept as is)."""
        record = failed_record(self.ctx, job, reason)
        if self.store.fail(record):
            record.reason = f"{reason} (the earlier {record.file} and its record are kept)"
        return record


def export(
    names: Sequence[str] = (),
    *,
    all_models: bool = False,
    out: str | Path = DEFAULT_OUT,
    data: str | Path | None = None,
    options: ExportOptions | None = None,
    command: str | None = None,
    log: Callable[[str], None] = print,
    workspace: Workspace | None = None,
    **settings: Any,
) -> ExportReport:
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
        workspace: the models and folder of a pre-flight already run (``pipeline`` passes
            its own): ``names``, ``all_models`` and ``out`` are then taken from it.

    Returns:
        The ``ExportReport``: one ``ArtifactRecord`` per file attempted.

    Every option, output folder, existing manifest and trained model is checked before the
    first conversion. Untrained models are an error naming the train command, unless
    ``train_missing`` trains them first with their recipe. With ``auto_fix``, an int8 file that
    fails parity gets a repaired sibling (``optimize.choose_repair`` picks it). A C array whose
    TFLite bytes (flash) or measured TFLM arena exceed ``budget`` is a failed record.
    """
    if options is not None and settings:
        raise TypeError(
            "export(): give options=ExportOptions(...) or its fields as keywords, not both"
        )
    options = options or ExportOptions(**settings)
    options.validate()
    fmts, recs, keep_float = options.format_list, options.recipe_list, options.keep_float_layers
    if workspace is None:
        from edgedigits.model_import import import_files  # a .keras/.h5 named: import it first

        names = import_files(names, out=out, data=data, log=log)
        workspace = Workspace.checked(out, chosen_models(names, all_models, out))
    out, chosen = workspace.out, list(workspace.names)
    missing = [n for n in chosen if not model_path(out, n).is_file()]
    unshipped = [n for n in missing if pretrained(n) is None]
    if unshipped and not options.train_missing:
        raise ModelFileError(
            f"not trained yet: {', '.join(unshipped)} (no {model_path(out, unshipped[0])}, and no "
            f"shipped weights); run 'edgedigits train {' '.join(unshipped)} --out {out}' first, "
            "or add --train"
        )
    dataset = load_dataset(data)
    options = fit_default_samples(options, dataset, log)
    check_sample_counts(
        dataset, options.calibration_samples, options.verify_samples, options.finetune_options
    )
    for name in chosen:
        if name not in missing:  # the right architecture, and the layers --keep-float names
            check_keep_float(keep_float, load_trained_model(model_path(out, name), get_spec(name)))
    if missing and options.train_missing:
        from edgedigits.training import train  # --train: the trainer, only when asked for

        train(missing, out=out, data=data, seed=options.seed, log=log)
    elif missing:  # the shipped weights, saying so (metrics.json records weights: pretrained)
        for name in missing:
            materialize(out, name, log)
    if missing:
        for name in missing:
            check_keep_float(keep_float, load_trained_model(model_path(out, name), get_spec(name)))
    command = (
        command
        or "python: edgedigits.export("
        + ", ".join(
            [
                repr(list(chosen)),
                f"formats={[f.value for f in fmts]}",
                f"recipes={[r.value for r in recs]}",
            ]
        )
        + ")"
    )
    report = ExportReport()
    workers = export_workers(options, len(chosen))
    heading = f"{', '.join(f.value for f in fmts)} x {', '.join(r.value for r in recs)}"
    if workers == 1:
        for k, name in enumerate(chosen, 1):
            log(f"[{k}/{len(chosen)}] exporting {name}: {heading}")
            report.records.extend(_export_model(name, out, dataset, options, command, log))
        return report
    log(
        f"exporting {len(chosen)} models in {workers} processes (one model each; --jobs 1 for "
        f"one): {heading}"
    )
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
        raise DiskFullError(
            f"{folder}: no space left on the device while making an artifact; "
            "the folder keeps the files exported before it, each complete and "
            "recorded"
        ) from None


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


def _export_model(
    name: str,
    out: Path,
    dataset: Dataset,
    options: ExportOptions,
    command: str,
    log: Callable[[str], None],
) -> list[ArtifactRecord]:
    with folder_commit.work_dir(out / name) as work:
        job = _ModelExport(ModelContext(get_spec(name), out, dataset, options, command, log, work))
        return _run_model_export(job, options)


def _run_model_export(job: _ModelExport, options: ExportOptions) -> list[ArtifactRecord]:
    records = job.run()
    if options.auto_fix:
        records += job.auto_fix(records)
    job.store.flush()
    return records


def _in_processes(
    chosen: list[str],
    workers: int,
    out: Path,
    data: str | Path | None,
    options: ExportOptions,
    command: str,
    log: Callable[[str], None],
):
    """Export each model in a worker process (spawned: TensorFlow does not survive a fork);
    their log lines stream back through a queue as they are written. Yields each model's
    records in ``chosen`` order. Each model folder is written by one process only, with the
    same atomic steps as in-process, so a killed worker leaves its folder as consistent."""
    import multiprocessing
    import threading
    from concurrent.futures import ProcessPoolExecutor

    context = multiprocessing.get_context("spawn")
    lines = context.Queue()
    printer = threading.Thread(
        target=lambda: [log(line) for line in iter(lines.get, None)], daemon=True
    )
    printer.start()
    try:
        with ProcessPoolExecutor(
            workers, mp_context=context, initializer=_worker_start, initargs=(lines,)
        ) as pool:
            futures = [
                pool.submit(_worker_export, name, k, len(chosen), str(out), data, options, command)
                for k, name in enumerate(chosen, 1)
            ]
            for future in futures:
                yield future.result()
    finally:
        lines.put(None)
        printer.join(timeout=10)


_WORKER_LOG: Any = None  # in a worker process: the queue its log lines go to


def _worker_start(lines: Any) -> None:
    global _WORKER_LOG
    _WORKER_LOG = lines


def _worker_export(
    name: str,
    k: int,
    total: int,
    out: str,
    data: str | Path | None,
    options: ExportOptions,
    command: str,
) -> list[ArtifactRecord]:
    from edgedigits.imported import load_imported

    if name not in list_models():
        load_imported(out, name)  # registers it in this process, as import_files did in the parent
    log = _WORKER_LOG.put
    log(f"[{k}/{total}] exporting {name} (process {os.getpid()})")
    return _export_model(name, Path(out), load_dataset(data), options, command, log)
