"""The contract: what the toolkit promises, declared once and read everywhere.

``recipes.py``: the formats and recipes (``--format``, ``--quant``), which formats offer which
recipe, and ``RECIPE_INFO``, the one table of what each recipe needs and the tolerance its
artifacts promise. ``targets.py``: the apps' runtimes (``--target``) and the files each loads.
``tolerances.py``: looking a promise up, with a user's ``--tolerances`` on top. Which runtime
runs which file is each runner's own declaration (``runtimes/``, by file suffix). Import-light:
no TensorFlow, so the CLI's ``--help`` and the unit tests read it for free.
"""

from edgedigits.contract.recipes import (
    EXPLICIT_ONLY,
    FORMAT_RECIPES,
    RECIPE_INFO,
    REFERENCE_TOLERANCE,
    Format,
    Recipe,
    RecipeInfo,
)
from edgedigits.contract.targets import IO, TARGETS, Target, Variant
from edgedigits.contract.tolerances import default_tolerances, family_of, load_tolerances

__all__ = [
    "EXPLICIT_ONLY",
    "FORMAT_RECIPES",
    "IO",
    "RECIPE_INFO",
    "REFERENCE_TOLERANCE",
    "TARGETS",
    "Format",
    "Recipe",
    "RecipeInfo",
    "Target",
    "Variant",
    "default_tolerances",
    "family_of",
    "load_tolerances",
]
