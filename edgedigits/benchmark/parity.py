"""Accuracy parity of an artifact against the trained Keras model, on the full test set.

The tolerances are the contract's (``edgedigits.contract``: one row per recipe in
``RECIPE_INFO``), the same export judges its files by; ``--tolerances`` (``bench/tolerances.json``
is an example) or flags override them for one run. A tolerance exceeded is a *result*
(``parity: "fail"`` with the reasons), never an exception.
"""

from edgedigits.comparator import Parity, Tolerance, compare, confusion
from edgedigits.contract.tolerances import default_tolerances, family_of, load_tolerances

__all__ = [
    "Parity",
    "Tolerance",
    "compare",
    "confusion",
    "default_tolerances",
    "family_of",
    "load_tolerances",
]
