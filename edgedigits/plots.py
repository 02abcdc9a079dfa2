"""Training plots: curves, confusion matrix, sample predictions, misclassified digits, and a
cross-model accuracy chart. Headless (Agg) and written atomically like every other output."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from edgedigits.atomic import atomic_path

__all__ = [
    "accuracy_bars",
    "confusion_matrix",
    "digit_grid",
    "layer_errors",
    "pyplot",
    "save_figure",
    "training_curves",
]


def pyplot():
    import matplotlib

    matplotlib.use("Agg")  # no display on CI or servers
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: Path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight")
    pyplot().close(fig)


def training_curves(history: dict[str, list[float]], title: str, path: Path) -> None:
    """Accuracy and loss per epoch, training and (when the recipe has one) validation."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for ax, metric in zip(axes, ("accuracy", "loss")):
        for key, label in ((metric, "train"), (f"val_{metric}", "validation")):
            if key in history:
                epochs = np.arange(1, len(history[key]) + 1)
                ax.plot(epochs, history[key], marker="o", markersize=3, label=label)
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    save_figure(fig, path)


def confusion_matrix(matrix: np.ndarray, title: str, path: Path) -> None:
    """Counts of (true label, predicted label) on the test set."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.6, 5))
    im = ax.imshow(matrix, cmap="Blues")
    n = matrix.shape[0]
    threshold = matrix.max() / 2
    for i in range(n):
        for j in range(n):
            ax.text(
                j,
                i,
                str(int(matrix[i, j])),
                ha="center",
                va="center",
                fontsize=7,
                color="white" if matrix[i, j] > threshold else "black",
            )
    ax.set_xticks(range(n))
    ax.set_yticks(range(n))
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    fig.colorbar(im, ax=ax, fraction=0.046)
    save_figure(fig, path)


def digit_grid(
    images: np.ndarray, true: np.ndarray, pred: np.ndarray, title: str, path: Path, columns: int = 8
) -> None:
    """A grid of digits captioned 'true -> predicted', red where they differ."""
    plt = pyplot()
    count = len(images)
    rows = max(1, -(-count // columns))
    fig, axes = plt.subplots(rows, columns, figsize=(columns * 1.1, rows * 1.25 + 0.4))
    for k, ax in enumerate(np.atleast_1d(axes).ravel()):
        ax.axis("off")
        if k < count:
            ax.imshow(images[k], cmap="gray_r")
            wrong = int(true[k]) != int(pred[k])
            ax.set_title(
                f"{int(true[k])}->{int(pred[k])}", fontsize=8, color="crimson" if wrong else "black"
            )
    if count == 0:
        fig.text(0.5, 0.5, "none", ha="center")
    fig.suptitle(title)
    save_figure(fig, path)


def accuracy_bars(
    names: Sequence[str], accuracies: Sequence[float], reported: Sequence[float | None], path: Path
) -> None:
    """Test accuracy per model, with the seed's reported figure as a marker where it has one."""
    plt = pyplot()
    order = np.argsort(accuracies)
    fig, ax = plt.subplots(figsize=(8, 0.38 * len(names) + 1.2))
    y = np.arange(len(names))
    ax.barh(y, [accuracies[i] for i in order], color="steelblue", label="edgedigits (test)")
    rep = [(k, reported[i]) for k, i in enumerate(order) if reported[i] is not None]
    if rep:
        ax.scatter(
            [r for _, r in rep],
            [k for k, _ in rep],
            marker="|",
            s=200,
            color="crimson",
            label="seed reported",
            zorder=3,
        )
    ax.set_yticks(y)
    ax.set_yticklabels([names[i] for i in order], fontsize=8)
    low = min(min(accuracies), *(r for _, r in rep)) if rep else min(accuracies)
    ax.set_xlim(max(0.0, low - 5), 100)
    ax.set_xlabel("accuracy (%)")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    save_figure(fig, path)


def layer_errors(
    panels: Sequence[tuple[str, Sequence[str], Sequence[float], Sequence[float]]],
    title: str,
    path: Path,
) -> None:
    """One panel per format: per layer (in model order) the SQNR in dB (bars) and the share of
    the quantization noise the layer adds (line), side by side so the formats compare at a
    glance. ``panels``: (panel title, layer names, SQNR dB, noise share 0-1)."""
    plt = pyplot()
    fig, axes = plt.subplots(
        1, len(panels), figsize=(5.8 * len(panels), 4.2), squeeze=False, layout="constrained"
    )
    for ax, (name, layers, sqnr, share) in zip(axes[0], panels):
        x = np.arange(len(layers))
        shown = [min(v, 80.0) for v in sqnr]  # exact tensors (inf dB) drawn at the top
        ax.bar(x, shown, color="steelblue", label="SQNR (dB, higher is better)")
        ax.set_ylim(0, 85)
        ax.set_xticks(x)
        ax.set_xticklabels(layers, rotation=45, ha="right", fontsize=8)
        ax.set_ylabel("SQNR (dB)")
        twin = ax.twinx()
        twin.plot(x, [100 * s for s in share], color="crimson", marker="o", label="noise added (%)")
        twin.set_ylim(0, 105)
        twin.set_ylabel("share of added noise (%)", color="crimson")
        ax.set_title(name, fontsize=9)
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle(title)
    save_figure(fig, path)
