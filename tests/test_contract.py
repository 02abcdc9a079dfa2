"""The contract: one table of recipes and the tolerance each promises, read everywhere.

Unit tier: no model. The export-and-bench-agree test, which needs real files, is in
tests/test_bench.py (``test_export_and_bench_judge_an_artifact_the_same_way``).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from edgedigits.contract import RECIPE_INFO, Format, Recipe, default_tolerances, family_of
from edgedigits.contract.tolerances import FAMILIES

ROOT = Path(__file__).resolve().parents[1]


def test_every_recipe_promises_a_valid_tolerance_and_a_golden_atol():
    for recipe, info in RECIPE_INFO.items():
        info.tolerance.validate(recipe.value)
        assert 0 < info.golden_atol < 0.05, recipe
    assert set(RECIPE_INFO) == set(Recipe)


def test_fine_tuned_recipes_check_their_conversion_as_a_plain_recipe():
    for recipe, info in RECIPE_INFO.items():
        if info.finetuned:
            plain = RECIPE_INFO[info.converts_as]
            assert not plain.finetuned and plain.integer == info.integer, recipe
            # The conversion of a model is held to at least the promise of the new model.
            assert plain.tolerance.min_agreement >= info.tolerance.min_agreement


def test_max_abs_diff_is_judged_for_plain_float_recipes_only():
    judged = {r for r, info in RECIPE_INFO.items() if info.tolerance.max_abs_diff is not None}
    assert judged == {r for r, info in RECIPE_INFO.items() if info.family == "float"}


def test_families_group_every_recipe_and_the_reference():
    assert {family_of(r) for r in default_tolerances()} == set(FAMILIES)
    assert family_of("keras") == "reference"


def _numeric_literals(tree: ast.AST) -> set[float]:
    return {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, float)
    }


def test_the_tolerance_numbers_are_written_once():
    """No module but the contract holds a tolerance figure: export, bench, verify, doctor and
    the reports read them from RECIPE_INFO (a literal 0.98 elsewhere would be a second table)."""
    # The agreement floors (the accuracy drops and diffs, 0.1 or 1e-4, are common hyperparameters)
    figures = {info.tolerance.min_agreement for info in RECIPE_INFO.values()} - {1.0}
    owner = ROOT / "edgedigits" / "contract" / "recipes.py"
    offenders = []
    for path in (ROOT / "edgedigits").rglob("*.py"):
        if path == owner:
            continue
        found = _numeric_literals(ast.parse(path.read_text())) & figures
        if found:
            offenders.append(f"{path.relative_to(ROOT)}: {sorted(found)}")
    assert not offenders, offenders


def test_the_docs_quote_no_tolerance_by_hand():
    """Tolerance figures in the docs come from the generated contract page only."""
    pattern = re.compile(r"(agreement|accuracy drop)[^.|\n]{0,20}(>=|<=|≥|≤) ?\d")
    hand = [
        str(p.relative_to(ROOT))
        for p in list((ROOT / "docs").rglob("*.md")) + [ROOT / "README.md"]
        if p.name != "contract.md" and pattern.search(p.read_text())
    ]
    assert hand == []


@pytest.mark.parametrize("fmt", list(Format))
def test_each_format_offers_recipes_from_the_table(fmt):
    from edgedigits.contract import FORMAT_RECIPES

    assert FORMAT_RECIPES[fmt] and set(FORMAT_RECIPES[fmt]) <= set(RECIPE_INFO)
