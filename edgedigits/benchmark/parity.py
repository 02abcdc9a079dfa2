"""Accuracy parity of an artifact against the trained Keras model, on the full test set.

Tolerances are per recipe *family*, because a float16 file and an int8 file make different
promises. Defaults (``DEFAULT_TOLERANCES``) are documented in docs/reference/cli.md (bench) and
can be overridden by a JSON file (``bench/tolerances.json`` is the committed example) or by
flags. A tolerance exceeded is a *result* (``parity: "fail"`` with the reasons), never an
exception.
"""

from __future__ import annotations

from dataclasses import fields, replace
from pathlib import Path

from edgedigits.comparator import Parity, Tolerance, compare, confusion  # noqa: F401 (API)
from edgedigits.errors import UsageError
from edgedigits.jsonfile import read_json


def family_of(recipe: str) -> str:
    """The tolerance family of a recipe, from the recipe table itself (``RECIPE_INFO``):
    ``reference`` for the Keras model, ``finetuned`` for recipes that fine-tune (a new model),
    ``integer`` for integer arithmetic, ``float`` for the rest."""
    from edgedigits.export.recipes import RECIPE_INFO, Recipe

    if recipe == "keras":
        return "reference"
    try:
        info = RECIPE_INFO[Recipe(recipe)]
    except ValueError:
        raise UsageError(f"recipe {recipe!r} belongs to no tolerance family") from None
    return "finetuned" if info.finetuned else "integer" if info.integer else "float"


DEFAULT_TOLERANCES: dict[str, Tolerance] = {
    # The reference against itself (keras-predict, tensorflow-gpu): identical up to kernel rounding.
    "reference": Tolerance(min_agreement=0.9999, max_accuracy_drop=0.01, max_abs_diff=1e-4),
    # float32/float16 conversions: near-identical; float16 weights move probabilities ~1e-3.
    "float": Tolerance(min_agreement=0.998, max_accuracy_drop=0.1, max_abs_diff=5e-2),
    # Post-training integer quantization: at most half a point of accuracy.
    "integer": Tolerance(min_agreement=0.98, max_accuracy_drop=0.5, max_abs_diff=None),
    # Fine-tuned (QAT, pruning, clustering) models are new models: judged on accuracy only.
    "finetuned": Tolerance(min_agreement=0.95, max_accuracy_drop=1.0, max_abs_diff=None),
}


def load_tolerances(path: str | Path | None, overrides: dict[str, float] | None = None
                    ) -> dict[str, Tolerance]:
    """Defaults, then a JSON file ``{"family": {"field": value}}``, then flag overrides (all
    families)."""
    tolerances = dict(DEFAULT_TOLERANCES)
    if path is not None:
        data = read_json(path, "--tolerances")
        if not isinstance(data, dict):
            raise UsageError(f"--tolerances {path}: expected a JSON object of families")
        names = {f.name for f in fields(Tolerance)}
        for family, values in data.items():
            if family.startswith("_"):
                continue  # comments
            if family not in tolerances or not isinstance(values, dict):
                raise UsageError(f"--tolerances {path}: unknown family {family!r}; families: "
                                 f"{', '.join(tolerances)}")
            unknown = set(values) - names
            if unknown:
                raise UsageError(f"--tolerances {path}: unknown field(s) {sorted(unknown)} for "
                                 f"{family}; fields: {', '.join(sorted(names))}")
            tolerances[family] = replace(tolerances[family], **values)
            tolerances[family].validate(f"--tolerances {path}: {family}")
    for key, value in (overrides or {}).items():
        if value is not None:
            tolerances = {f: replace(t, **{key: value}) for f, t in tolerances.items()}
            next(iter(tolerances.values())).validate("--" + key.replace("_", "-"))
    return tolerances
