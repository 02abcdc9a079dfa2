"""The docs are claims: the README stays a front page, every link resolves, the CLI reference
is what the parser prints, and every command and Python block of the README runs as written.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", ROOT / "CHANGELOG.md",
         *sorted((ROOT / "docs").rglob("*.md"))]
README_MAX_LINES = 150


def test_readme_is_a_front_page():
    lines = (ROOT / "README.md").read_text().splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines; move detail to docs/"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(page):
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)  # links, not code
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if target.startswith(("http://", "https://", "mailto:", "#")):
            continue
        path = (page.parent / target.split("#", 1)[0]).resolve()
        if not path.exists():
            broken.append(target)
    assert not broken, f"{page.relative_to(ROOT)}: links to nothing: {broken}"


def test_cli_reference_is_what_the_parser_prints():
    from edgedigits.docs_cli import cli_help_markdown

    page = ROOT / "docs" / "reference" / "cli-help.md"
    assert page.read_text() == cli_help_markdown(), (
        "docs/reference/cli-help.md is stale: python -m edgedigits.docs_cli > "
        "docs/reference/cli-help.md")


def _readme_tour() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = text.split("## A five-minute tour", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    return [line.split("  #", 1)[0].strip() for line in block.splitlines() if line.strip()]


def _readme_python() -> str:
    text = (ROOT / "README.md").read_text()
    part = text.split("<!-- tested: tests/test_docs.py runs this block -->", 1)[1]
    return part.split("```python\n", 1)[1].split("```", 1)[0]


@pytest.mark.integration
def test_readme_tour_runs_as_written(tmp_path):
    """Each command of the tour, in order, in an empty folder (the notebook's file made by
    Keras 3 the way a notebook saves it): each exits 0."""
    sys.path.insert(0, str(ROOT / "tests"))
    from notebook_models import save_notebook_model

    saved = save_notebook_model("mlp_dropout_bn", tmp_path / "nb", formats=(".keras",))
    shutil.copy(saved[".keras"], tmp_path / "my_notebook_model.keras")
    commands = _readme_tour()
    assert len(commands) == 7 and all(c.startswith("edgedigits ") for c in commands)
    for command in commands:
        run = subprocess.run([sys.executable, "-m", "edgedigits", *command.split()[1:]],
                             cwd=tmp_path, capture_output=True, text=True, timeout=900)
        assert run.returncode == 0, (command, run.stderr[-2000:])
        assert "Traceback" not in run.stderr, command


@pytest.mark.integration
def test_readme_python_block_runs_as_written(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    exec(compile(_readme_python(), "README.md", "exec"), {})
    assert capsys.readouterr().out.strip().endswith("True")
