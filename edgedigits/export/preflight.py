"""What export checks before any conversion: which models, and whether the sample counts and
the ``--keep-float`` layers fit the data and the model (one line naming the flag otherwise)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from edgedigits.data import Dataset
from edgedigits.errors import ModelFileError, UsageError
from edgedigits.export.model_optimization import FinetuneOptions
from edgedigits.export.options import (
    DEFAULT_CALIBRATION_SAMPLES,
    DEFAULT_VERIFY_SAMPLES,
    ExportOptions,
)
from edgedigits.model_files import DEFAULT_MODELS, model_path
from edgedigits.zoo import list_models
from edgedigits.zoo.pretrained import pretrained


def check_keep_float(keep_float: list[str], model: Any) -> None:
    layers = [layer.name for layer in model.layers]
    unknown = [k for k in keep_float if k not in layers]
    if unknown:
        raise UsageError(
            f"--keep-float {','.join(unknown)}: no such layer in {model.name}; its "
            f"layers: {', '.join(layers)}"
        )


def chosen_models(names: Sequence[str], all_models: bool, out: str | Path) -> list[str]:
    """The named models; or, with no names, every model already trained (or imported) under
    ``out``."""
    from edgedigits.imported import imported_names, resolve_names

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
            "add --train)"
        )
    return trained


def fit_default_samples(
    options: ExportOptions, dataset: Dataset, log: Callable[[str], None]
) -> ExportOptions:
    """A small --data (a folder of a user's own pictures) has fewer images than the default
    calibration and verify counts: the defaults shrink to what there is, saying so; a count the
    user asked for is held to (``check_sample_counts``)."""
    changes = {}
    for field_name, default, available, split in (
        ("calibration_samples", DEFAULT_CALIBRATION_SAMPLES, dataset.num_train, "training"),
        ("verify_samples", DEFAULT_VERIFY_SAMPLES, dataset.num_test, "test"),
    ):
        if getattr(options, field_name) == default and available < default:
            changes[field_name] = available
            log(f"note: {dataset.source} has {available} {split} images; using all of them")
    return replace(options, **changes) if changes else options


def check_sample_counts(
    dataset: Dataset, calibration_samples: int, verify_samples: int, finetune: FinetuneOptions
) -> None:
    for flag, value, available, split in (
        ("--calibration-samples", calibration_samples, dataset.num_train, "training"),
        ("--finetune-samples", finetune.samples, dataset.num_train, "training"),
        ("--verify-samples", verify_samples, dataset.num_test, "test"),
    ):
        if value is not None and value > available:
            raise UsageError(
                f"{flag} {value}: {dataset.source} has only {available} {split} images"
            )
