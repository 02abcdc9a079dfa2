"""docs/results/ is generated from the committed result files, and its prose quotes them.

Unit tier: reads committed JSON and Markdown only (bench/results_pages.py).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("results_pages", ROOT / "bench" / "results_pages.py")
results_pages = importlib.util.module_from_spec(spec)
spec.loader.exec_module(results_pages)


def test_every_generated_block_is_what_its_files_give():
    assert results_pages.PAGES, "no results pages found"
    assert results_pages.stale_blocks() == [], "python bench/results_pages.py"


def test_every_figure_in_the_prose_is_in_a_committed_result_file():
    assert results_pages.unsupported_figures() == []


def test_a_hand_edited_block_and_an_invented_figure_are_caught(tmp_path):
    page = tmp_path / "page.md"
    good = results_pages.regenerate(
        "Ratios:\n<!-- results: summarize bench/baseline.json -->\n<!-- /results -->\n"
    )
    page.write_text(good)
    assert results_pages.stale_blocks([page]) == []
    page.write_text(good.replace("(5 models)", "(6 models)", 1))
    assert results_pages.stale_blocks([page]) == [f"{page}: summarize bench/baseline.json"]
    page.write_text(good + "\nLiteRT is 12.3456x faster.\n")
    assert results_pages.unsupported_figures([page]) == [f"{page}: 12.3456"]


def test_the_baseline_summary_quotes_the_baseline():
    """A generated block is the summary script's output on the file it names, no copy."""
    text = results_pages.render("summarize bench/baseline.json")
    assert "| seed004_cnn |" in text and "Ratios of batch-1 p50 latencies" in text
