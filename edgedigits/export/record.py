"""Export stage 4, record: what the manifest says about each file, and the store that lands it.

``new_record`` describes a converted file before it is checked (name, hashes, sizes, I/O, batch,
targets); the check fills in tensors, parity and interface. ``open_store`` makes the model
folder's ``ArtifactStore`` (``artifact_store.py``): the manifest's model-wide part (the source
model, calibration, fine-tuning, opset, command) and the golden document, so each checked file
lands with its record and golden entry in one folder commit.
"""

from __future__ import annotations

import gzip
import hashlib
from typing import Any

from edgedigits.contract.recipes import RECIPE_INFO, Format, artifact_name
from edgedigits.contract.targets import IO, targets_for
from edgedigits.export import model_optimization
from edgedigits.export.artifact_store import ArtifactStore, read_metrics
from edgedigits.export.golden import golden_document
from edgedigits.export.manifest import ArtifactRecord, output_kind
from edgedigits.export.model_context import ModelContext
from edgedigits.export.options import SHAPED_FORMATS, Job


def new_record(
    ctx: ModelContext, job: Job, name: str, payload: bytes, details: dict[str, Any]
) -> ArtifactRecord:
    """The record of a converted file, ``payload`` its bytes, before it is checked."""
    fmt = job.format
    batch = job.variant.batch if fmt in SHAPED_FORMATS else ctx.options.onnx_batch
    return ArtifactRecord(
        model=ctx.spec.name,
        file=name,
        format=fmt.value,
        recipe=job.recipe.value,
        status="ok",
        sha256=hashlib.sha256(payload).hexdigest(),
        size_bytes=len(payload),
        gzip_size_bytes=len(gzip.compress(payload, compresslevel=9, mtime=0)),
        output_kind=output_kind(ctx.spec),
        details=details,
        reproducible=fmt != Format.ORT,
        io=job.variant.io.value if fmt in SHAPED_FORMATS else IO.FLOAT32.value,
        batch="dynamic" if batch is None else batch,
        targets=[t.value for t in targets_for(fmt, job.variant)],
    )


def failed_record(ctx: ModelContext, job: Job, reason: str) -> ArtifactRecord:
    return ArtifactRecord(
        model=ctx.spec.name,
        file=artifact_name(ctx.spec.name, job.format, job.recipe, job.variant),
        format=job.format.value,
        recipe=job.recipe.value,
        status="failed",
        reason=reason,
    )


def open_store(ctx: ModelContext) -> ArtifactStore:
    """The model folder's store, with the manifest's model-wide fields and golden images."""
    golden_reference = ctx.keras_outputs(ctx.base, ctx.golden_x)
    return ArtifactStore(
        ctx.folder,
        ctx.spec,
        _source(ctx),
        _extra(ctx),
        lambda entries: golden_document(ctx.spec.name, ctx.dataset, golden_reference, entries),
        ctx.log,
    )


def _source(ctx: ModelContext) -> dict[str, Any]:
    source = {
        "file": ctx.source_path.name,
        "sha256": ctx.source_sha256,
        "params": int(ctx.base.count_params()),
    }
    metrics = read_metrics(ctx.folder / "metrics.json")  # validated before any work
    if metrics and metrics.get("test_accuracy") is not None:
        source["test_accuracy"] = metrics["test_accuracy"]
    # Where the weights came from, so no report passes shipped weights off as trained ones
    # (or an imported file as either).
    source["weights"] = (metrics or {}).get("weights", "trained")
    if (metrics or {}).get("weights_sha256"):
        source["weights_sha256"] = metrics["weights_sha256"]
    if isinstance((metrics or {}).get("equivalence"), str):  # an imported model's proof
        source["equivalence"] = metrics["equivalence"]
    return source


def _extra(ctx: ModelContext) -> dict[str, Any]:
    options = ctx.options
    extra: dict[str, Any] = {"command": ctx.command}
    if any(RECIPE_INFO[r].calibrated for r in options.recipe_list):
        extra["calibration"] = ctx.calibration.describe()
    finetune = options.finetune_options
    extra["finetune"] = {
        "epochs": finetune.epochs,
        "samples": finetune.samples,
        "sparsity": finetune.sparsity,
        "clusters": finetune.clusters,
        "learning_rate_scale": model_optimization.FINETUNE_LR_SCALE,
        "learning_rate": model_optimization.finetuning_spec(ctx.spec).recipe.learning_rate,
    }
    extra["onnx_opset"] = options.opset
    return extra
