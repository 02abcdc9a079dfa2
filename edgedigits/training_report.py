"""What a training run leaves for people: the result record, the per-model pictures and the
summary across models (``zoo_accuracy.png``, ``zoo_training.md``)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgedigits import atomic, plots
from edgedigits.comparator import confusion
from edgedigits.data import Dataset
from edgedigits.markdown import table
from edgedigits.model_files import model_dir
from edgedigits.zoo import list_models

GRID_IMAGES = 32  # digits shown in samples.png / misclassified.png


@dataclass(frozen=True)
class TrainResult:
    """What one training run produced; saved as ``metrics.json`` beside the model."""

    model: str
    source: str  # seed project id, e.g. "003"
    params: int
    epochs_requested: int
    epochs_run: int  # fewer than requested when EarlyStopping fired
    batch_size: int
    train_images: int  # images given to fit(), validation split included
    validation_images: int
    seed: int
    data_source: str
    test_accuracy: float  # percent, on the full test split
    test_loss: float
    final_val_accuracy: float | None  # percent, last epoch; None without a validation split
    best_val_accuracy: float | None
    reported_percent: float | None  # the seed's own figure, to compare against
    reported_metric: str | None
    train_seconds: float
    model_path: str
    model_sha256: str
    tensorflow_version: str
    # "trained" by this run, or "pretrained": written from the package's shipped weights
    # (edgedigits.zoo.pretrained), whose SHA-256 and training machine are then recorded too.
    weights: str = "trained"
    weights_sha256: str | None = None
    trained_on: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def plot_model(
    folder: Path,
    name: str,
    history: dict[str, list[float]],
    dataset: Dataset,
    true: np.ndarray,
    pred: np.ndarray,
) -> None:
    plots.training_curves(history, f"{name}: training", folder / "training_curves.png")
    plots.confusion_matrix(
        confusion(true, pred), f"{name}: test confusion matrix", folder / "confusion_matrix.png"
    )
    idx = np.arange(min(GRID_IMAGES, len(true)))
    plots.digit_grid(
        dataset.test_images[idx],
        true[idx],
        pred[idx],
        f"{name}: first test images (true->predicted)",
        folder / "samples.png",
    )
    wrong = np.flatnonzero(pred != true)
    shown = wrong[:GRID_IMAGES]
    plots.digit_grid(
        dataset.test_images[shown],
        true[shown],
        pred[shown],
        f"{name}: {len(wrong)} misclassified of {len(true)} (first {len(shown)})",
        folder / "misclassified.png",
    )


def collect_results(out: str | Path) -> list[TrainResult]:
    """Every ``metrics.json`` under ``out``, in zoo order: the models trained there so far."""
    results = []
    for name in list_models():
        metrics = model_dir(out, name) / "metrics.json"
        if metrics.is_file():
            try:
                results.append(TrainResult(**json.loads(metrics.read_text())))
            except (TypeError, ValueError):
                continue  # written by another version: skip it in the summary, do not crash
    return results


def results_markdown(results: Sequence[TrainResult]) -> str:
    """A Markdown table of training results beside each seed's reported figure."""
    rows = [
        [
            r.model,
            r.source,
            f"{r.params:,}",
            f"{r.epochs_run}/{r.epochs_requested}",
            f"{r.test_accuracy:.2f}",
            f"{r.final_val_accuracy:.2f}" if r.final_val_accuracy is not None else "",
            f"{r.reported_percent:.2f} ({r.reported_metric})"
            if r.reported_percent is not None
            else "",
            f"{r.train_seconds:.1f}",
        ]
        for r in results
    ]
    return (
        "\n".join(
            table(
                [
                    "model",
                    "seed",
                    "params",
                    "epochs",
                    "test acc %",
                    "val acc %",
                    "seed reported %",
                    "train s",
                ],
                rows,
                "llrrrrrr",
            )
        )
        + "\n"
    )


def write_summary(out: str | Path) -> list[TrainResult]:
    """Refresh the cross-model chart and table from everything trained under ``out``."""
    results = collect_results(out)
    if results:
        out = Path(out)
        atomic.sweep_dead(out)  # a killed run's half-written summary
        plots.accuracy_bars(
            [r.model for r in results],
            [r.test_accuracy for r in results],
            [r.reported_percent for r in results],
            out / "zoo_accuracy.png",
        )
        atomic.write_text(out / "zoo_training.md", results_markdown(results))
    return results
