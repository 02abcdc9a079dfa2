"""The comparator: an artifact's outputs against its reference's, judged by a tolerance.

One function serves the export-time check (``export/check.py``: the verify images against the
Keras model) and the bench (the full test set), both with the recipe's tolerance from the
contract (``edgedigits/contract/``), as Polygraphy's ``CompareFunc`` serves all its runs.
A tolerance exceeded is a *result* (``passed`` false, with the reasons), never an exception.
Import-light (NumPy only), so the trainer can use ``confusion`` too.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from edgedigits.errors import UsageError

DISAGREEMENTS_LISTED = 100  # indices kept in the JSON record (the count is always exact)


@dataclass(frozen=True)
class Tolerance:
    """What an artifact must satisfy against the Keras reference on the full test set."""

    min_agreement: float  # top-1 agreement with the reference, fraction
    max_accuracy_drop: float  # accuracy points the artifact may lose against the reference
    max_abs_diff: float | None  # largest |probability difference|; None = not judged

    def validate(self, where: str) -> None:
        """Each field a number in its range; ``where`` names the file or flag in the error."""
        checks = (
            ("min_agreement", self.min_agreement, 0.0, 1.0, False),
            ("max_accuracy_drop", self.max_accuracy_drop, 0.0, 100.0, False),
            ("max_abs_diff", self.max_abs_diff, 0.0, float("inf"), True),
        )
        for name, value, low, high, nullable in checks:
            if value is None and nullable:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise UsageError(f"{where}: {name} must be a number, not {value!r}")
            if not low <= value <= high:
                raise UsageError(f"{where}: {name} {value!r} is outside {low:g}-{high:g}")


@dataclass(frozen=True)
class Parity:
    accuracy: float  # percent
    reference_accuracy: float
    accuracy_delta: float  # points, artifact - reference
    agreement: float  # fraction
    max_abs_diff: float
    mean_abs_diff: float
    disagreements: int
    disagreement_indices: list[int]
    confusion_delta: list[list[int]]  # artifact confusion matrix - reference confusion matrix
    passed: bool
    failures: list[str]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def confusion(labels: np.ndarray, predicted: np.ndarray, classes: int = 10) -> np.ndarray:
    matrix = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(matrix, (labels.astype(np.int64), predicted.astype(np.int64)), 1)
    return matrix


def compare(
    outputs: np.ndarray, reference: np.ndarray, labels: np.ndarray, tolerance: Tolerance
) -> Parity:
    """Compare probabilities ``outputs`` with ``reference`` (both N x 10) on ``labels``."""
    predicted = np.argmax(outputs, axis=1)
    ref_pred = np.argmax(reference, axis=1)
    accuracy = 100.0 * float(np.mean(predicted == labels))
    reference_accuracy = 100.0 * float(np.mean(ref_pred == labels))
    diff = np.abs(outputs.astype(np.float64) - reference.astype(np.float64))
    disagree = np.flatnonzero(predicted != ref_pred)
    agreement = 1.0 - len(disagree) / len(labels)
    delta = accuracy - reference_accuracy
    failures = []
    for what, values in (("outputs", outputs), ("reference outputs", reference)):
        # NaN rows all argmax to class 0, so two broken models would otherwise "agree".
        broken = int(np.count_nonzero(~np.isfinite(values).all(axis=1)))
        if broken:
            failures.append(f"{what}: {broken} of {len(values)} rows not finite (NaN or inf)")
    # A figure exactly at its bound passes: counts over N images are compared after rounding
    # away float noise (100 * 487/500 - 100 * 486/500 is 0.20000000000000284, not 0.2).
    if round(agreement, 9) < tolerance.min_agreement:
        failures.append(f"agreement {100 * agreement:.2f}% < {100 * tolerance.min_agreement:g}%")
    if round(-delta, 9) > tolerance.max_accuracy_drop:
        failures.append(f"accuracy drop {-delta:.2f} pts > {tolerance.max_accuracy_drop:g}")
    if tolerance.max_abs_diff is not None and float(diff.max()) > tolerance.max_abs_diff:
        failures.append(f"max abs diff {float(diff.max()):.3g} > {tolerance.max_abs_diff:g}")
    return Parity(
        accuracy=round(accuracy, 4),
        reference_accuracy=round(reference_accuracy, 4),
        accuracy_delta=round(delta, 4),
        agreement=round(agreement, 6),
        max_abs_diff=float(f"{diff.max():.6g}"),
        mean_abs_diff=float(f"{diff.mean():.6g}"),
        disagreements=int(len(disagree)),
        disagreement_indices=[int(i) for i in disagree[:DISAGREEMENTS_LISTED]],
        confusion_delta=(confusion(labels, predicted) - confusion(labels, ref_pred)).tolist(),
        passed=not failures,
        failures=failures,
    )
