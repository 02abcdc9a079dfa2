"""docs/results/*.md: the measured figures, generated from the committed result files.

A results page is prose around generated blocks:

    <!-- results: summarize bench/baseline.json -->
    (what bench/summarize.py makes of that file)
    <!-- /results -->

The first word names a generator (``GENERATORS`` below: the same functions the bench scripts
write their summaries with), the rest the committed files it reads. ``python
bench/results_pages.py`` rewrites every block; ``--check`` exits 1 naming each stale one.
``tests/test_results_pages.py`` runs the check and holds the prose to the files too: a figure
written outside a block must appear in a committed result file.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted((ROOT / "docs" / "results").glob("*.md"))
BLOCK = re.compile(
    r"(<!-- results: (?P<spec>[^>]*?) -->\n)(?P<body>.*?)(<!-- /results -->)", re.DOTALL
)
RESULT_FILES = ("bench/results/*.md", "bench/results/*.json", "bench/*.json")


def _bench_module(name: str):
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        return __import__(name)
    finally:
        sys.path.pop(0)


def _read(path: str) -> dict:
    return json.loads((ROOT / path).read_text())


def _embedded(markdown: str) -> str:
    """A stand-alone summary inside a page: its title dropped, its sections one level down."""
    lines = markdown.strip("\n").splitlines()
    if lines and lines[0].startswith("# "):
        lines = lines[1:]
    return "\n".join("#" + line if line.startswith("## ") else line for line in lines).strip()


def _label(page: Path) -> str:
    return str(page.relative_to(ROOT)) if page.is_relative_to(ROOT) else str(page)


def _first_table(markdown: str) -> str:
    lines = markdown.splitlines()
    start = next(k for k, line in enumerate(lines) if line.startswith("|"))
    end = next((k for k in range(start, len(lines)) if not lines[k].startswith("|")), len(lines))
    return "\n".join(lines[start:end])


GENERATORS: dict[str, Callable[[list[str]], str]] = {
    # bench/summarize.py: one row per model and the latency ratios, from a bench report
    "summarize": lambda paths: _bench_module("summarize").summarize(_read(paths[0])),
    # bench/summarize_mcu.py: TFLM's arenas, flash and fit, from the TFLM and LiteRT reports
    "summarize_mcu": lambda paths: _embedded(
        _bench_module("summarize_mcu").summarize(_read(paths[0]), _read(paths[1]))
    ),
    # bench/champions.py: every model's int8 file, champions marked
    "champions_table": lambda paths: _first_table(
        _bench_module("champions").markdown(_bench_module("champions").compare(_read(paths[0])))
    ),
    # a committed Markdown result, as written by the script that made it
    "include": lambda paths: _embedded((ROOT / paths[0]).read_text()),
}


def render(spec: str) -> str:
    name, *paths = spec.split()
    if name not in GENERATORS:
        raise SystemExit(
            f"results block {spec!r}: no generator {name!r}; generators: {', '.join(GENERATORS)}"
        )
    return GENERATORS[name](paths).strip("\n") + "\n"


def regenerate(text: str) -> str:
    return BLOCK.sub(lambda m: m.group(1) + render(m.group("spec")) + m.group(4), text)


def stale_blocks(pages: list[Path] = PAGES) -> list[str]:
    stale = []
    for page in pages:
        text = page.read_text()
        for m in BLOCK.finditer(text):
            if m.group("body") != render(m.group("spec")):
                stale.append(f"{_label(page)}: {m.group('spec')}")
    return stale


def prose(text: str) -> str:
    """A page without its generated blocks: what a person wrote."""
    return BLOCK.sub("", text)


def figures(text: str) -> list[str]:
    """Figures with a decimal point or thousands separators (1.63, 0.00290871, 1,156): the
    measured values a sentence can quote; small whole numbers (20 runs, 2 cores) are not."""
    return re.findall(r"(?<![\w./])(\d[\d,]*\.\d+|\d{1,3}(?:,\d{3})+)(?!\d|[.,]\d)", text)


def result_figures() -> set[str]:
    """Every figure in the committed result files, with and without thousands separators."""
    found: set[str] = set()
    for pattern in RESULT_FILES:
        for path in ROOT.glob(pattern):
            found.update(re.findall(r"\d[\d,]*(?:\.\d+)?(?:e-?\d+)?", path.read_text()))
    return found | {f.replace(",", "") for f in found}


def unsupported_figures(pages: list[Path] = PAGES) -> list[str]:
    """Figures in a page's prose found neither in a result file nor in its generated blocks
    (a ratio the summary computed, quoted in a sentence below it)."""
    known = result_figures()
    problems = []
    for page in pages:
        text = page.read_text()
        generated = set(figures("".join(m.group("body") for m in BLOCK.finditer(text))))
        problems += [
            f"{_label(page)}: {figure}"
            for figure in figures(prose(text))
            if not {figure, figure.replace(",", "")} & (known | generated)
        ]
    return problems


def main(argv: list[str]) -> int:
    if argv == ["--check"]:
        problems = [f"{b}: stale (python bench/results_pages.py)" for b in stale_blocks()]
        problems += [f"{f}: in no committed result file" for f in unsupported_figures()]
        for problem in problems:
            print(problem, file=sys.stderr)
        return 1 if problems else 0
    for page in PAGES:
        text = page.read_text()
        new = regenerate(text)
        if new != text:
            page.write_text(new)
            print(f"wrote {_label(page)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
