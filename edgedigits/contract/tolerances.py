"""The tolerance each artifact is judged by, from the recipe table, with a user's overrides.

The numbers live in one place, ``RECIPE_INFO`` (``contract/recipes.py``); this module only looks
them up (``tolerance_for``) and applies a ``--tolerances`` file or flags on top
(``load_tolerances``). A file groups recipes by family (``float``, ``integer``, ``finetuned``,
plus ``reference`` for the Keras model under another runtime) or names one recipe; a recipe's own
entry wins over its family's. A tolerance exceeded is a *result*, never an exception.
"""

from __future__ import annotations

from dataclasses import fields, replace
from pathlib import Path

from edgedigits.comparator import Tolerance
from edgedigits.contract.recipes import RECIPE_INFO, REFERENCE_TOLERANCE, Recipe
from edgedigits.errors import UsageError
from edgedigits.jsonfile import read_json

REFERENCE = "keras"  # the recipe name of the Keras model itself in bench rows
FAMILIES = ("reference", "float", "integer", "finetuned")


def family_of(recipe: str) -> str:
    """``reference`` for the Keras model, else the recipe's family in ``RECIPE_INFO``."""
    if recipe == REFERENCE:
        return "reference"
    try:
        return RECIPE_INFO[Recipe(recipe)].family
    except ValueError:
        raise UsageError(f"recipe {recipe!r} belongs to no tolerance family") from None


def default_tolerances() -> dict[str, Tolerance]:
    """Every recipe's promise, keyed by recipe name (``keras``: the reference's)."""
    return {
        REFERENCE: REFERENCE_TOLERANCE,
        **{r.value: info.tolerance for r, info in RECIPE_INFO.items()},
    }


def load_tolerances(
    path: str | Path | None, overrides: dict[str, float] | None = None
) -> dict[str, Tolerance]:
    """Defaults, then a JSON file ``{"family or recipe": {"field": value}}`` (families first,
    then recipes), then flag overrides (every recipe)."""
    tolerances = default_tolerances()
    if path is not None:
        data = read_json(path, "--tolerances")
        if not isinstance(data, dict):
            raise UsageError(f"--tolerances {path}: expected a JSON object of families or recipes")
        names = {f.name for f in fields(Tolerance)}
        keys = [k for k in data if not k.startswith("_")]  # "_comment" and the like
        for key in sorted(keys, key=lambda k: k not in FAMILIES):  # families, then recipes
            values = data[key]
            if key in FAMILIES:
                recipes = [r for r in tolerances if family_of(r) == key]
            elif key in tolerances:
                recipes = [key]
            else:
                raise UsageError(
                    f"--tolerances {path}: unknown family or recipe {key!r}; "
                    f"families: {', '.join(FAMILIES)}; recipes: "
                    f"{', '.join(tolerances)}"
                )
            if not isinstance(values, dict):
                raise UsageError(f"--tolerances {path}: {key}: expected an object of fields")
            unknown = set(values) - names
            if unknown:
                raise UsageError(
                    f"--tolerances {path}: unknown field(s) {sorted(unknown)} for "
                    f"{key}; fields: {', '.join(sorted(names))}"
                )
            for recipe in recipes:
                tolerances[recipe] = replace(tolerances[recipe], **values)
                tolerances[recipe].validate(f"--tolerances {path}: {key}")
    for field_name, value in (overrides or {}).items():
        if value is not None:
            tolerances = {r: replace(t, **{field_name: value}) for r, t in tolerances.items()}
            next(iter(tolerances.values())).validate("--" + field_name.replace("_", "-"))
    return tolerances
