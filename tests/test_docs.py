"""The docs are claims: the README stays a front page, every link resolves, the CLI reference
is what the parser prints, and every command and Python block of the README runs as written.
"""

from __future__ import annotations

import argparse
import re
import shlex
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [
    ROOT / "README.md",
    ROOT / "CONTRIBUTING.md",
    ROOT / "CHANGELOG.md",
    *sorted((ROOT / "docs").rglob("*.md")),
]
README_MAX_LINES = 150


def test_readme_is_a_front_page():
    lines = (ROOT / "README.md").read_text().splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines; move detail to docs/"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(page):
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)  # links, not code
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        file, _, anchor = target.partition("#")
        path = (page.parent / file).resolve() if file else page
        if not path.exists():
            broken.append(target)
        elif anchor and path.suffix == ".md" and anchor not in _anchors(path):
            broken.append(target)  # a section that is not there (the CI guide once did that)
    assert not broken, f"{page.relative_to(ROOT)}: links to nothing: {broken}"


def _anchors(page: Path) -> set[str]:
    """The anchors GitHub gives a page's headings: lower case, punctuation dropped, spaces to
    hyphens, a repeated heading numbered."""
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
    seen: dict[str, int] = {}
    out = set()
    for heading in re.findall(r"^#{1,6} +(.+?) *$", text, flags=re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        out.add(slug if n == 0 else f"{slug}-{n}")
    return out


def test_generated_reference_pages_are_what_the_code_prints():
    """docs/reference/cli-help.md (the parser), contract.md (the contract's tables) and cli.md's
    flag tables (the parser's help strings)."""
    generate = _generator()
    assert generate.stale_pages(ROOT) == [], f"stale pages: {generate.REGENERATE}"


def _generator():
    """``docs/generate.py``, a development tool beside the docs (not in the package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("docs_generate", ROOT / "docs" / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_command_has_its_flag_table_in_the_reference(tmp_path):
    """Every command has a `<!-- flags: NAME -->` block in cli.md; a page without one (as
    `import` once had no section at all) stops the generator, and so the test above."""
    generate = _generator()
    page = (ROOT / generate.CLI_PAGE).read_text()
    _, commands = generate._commands()
    assert {m.group("command") for m in generate.FLAGS_BLOCK.finditer(page)} == set(commands)
    (tmp_path / generate.CLI_PAGE).parent.mkdir(parents=True)
    (tmp_path / generate.CLI_PAGE).write_text(page.replace("<!-- flags: import -->", ""))
    generate.ROOT = tmp_path
    with pytest.raises(SystemExit, match=r"no flags block for \['import'\]"):
        generate.cli_markdown()


def test_every_flag_states_its_default_as_the_parser_has_it():
    """A flag whose help says one default while the parser holds another is how cli.md came to
    say `--train` defaults to an error and `pipeline` to `--format tflite,onnx,ort`: every
    default the parser holds (not None, not a switch) is written in that flag's help."""
    import argparse

    _, commands = _generator()._commands()
    wrong = []
    for name, command in commands.items():
        for action in command._actions:
            if not action.option_strings or action.default in (None, False, [], ()):
                continue
            if isinstance(action, argparse._HelpAction):
                continue
            default = action.default
            stated = f"{default:g}" if isinstance(default, float) else str(default)
            if stated not in (action.help or ""):
                wrong.append(f"{name} {action.option_strings[0]}: default {stated!r} unstated")
    assert not wrong, wrong


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
        run = subprocess.run(
            [sys.executable, "-m", "edgedigits", *command.split()[1:]],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert run.returncode == 0, (command, run.stderr[-2000:])
        assert "Traceback" not in run.stderr, command


@pytest.mark.integration
def test_readme_python_block_runs_as_written(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    exec(compile(_readme_python(), "README.md", "exec"), {})
    assert capsys.readouterr().out.strip().endswith("True")


# -- every command and Python block in the docs ------------------------------------------------


def _doc_pages() -> list[Path]:
    pages = [p for p in (ROOT / "docs").rglob("*.md") if p.name != "cli-help.md"]
    return pages + [ROOT / "README.md", ROOT / "CONTRIBUTING.md"]


def _edgedigits_commands() -> list[tuple[str, str]]:
    """(page, command) for every ``edgedigits ...`` in a shell block or an inline code span."""
    found = []
    for page in _doc_pages():
        text = page.read_text()
        for block in re.findall(r"```(?:bash|sh|console|shell)\n(.*?)```", text, re.DOTALL):
            for line in block.replace("\\\n", " ").splitlines():
                for part in re.split(r"&&|;", line.strip().removeprefix("$ ")):
                    part = part.split("  #", 1)[0].strip()
                    if part.startswith("edgedigits "):
                        found.append((page.name, part))
        found += [
            (page.name, span)
            for span in re.findall(r"`(edgedigits [^`]+)`", text.replace("\n", " "))
        ]
    return found


def _parser_verdict(command: str) -> str | None:
    """None when the CLI's parser accepts ``command``; else its error. A synopsis (``[NAME...
    | --all]``) is held to its flags existing on that command; a bare ``edgedigits doctor``
    names a command that must exist."""
    import contextlib
    import io

    from edgedigits.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))  # noqa: SLF001
    argv = shlex.split(command)[1:]
    if argv and argv[0] not in sub.choices and argv[0] not in ("COMMAND", "--help", "--version"):
        return f"no command {argv[0]!r}"
    if "[" in command or "|" in command or len(argv) == 1 or argv[0] == "COMMAND":
        if argv[0] in ("COMMAND", "--help", "--version"):
            return None
        known = set(sub.choices[argv[0]]._option_string_actions)  # noqa: SLF001
        unknown = [f for f in re.findall(r"--[a-z][a-z0-9-]*", command) if f not in known]
        return f"unknown flags {unknown}" if unknown else None
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            parser.parse_args(argv)
    except SystemExit as exc:
        return None if not exc.code else err.getvalue().strip().splitlines()[-1]
    return None


def test_every_edgedigits_command_in_the_docs_parses():
    """Every command a page shows is accepted by the real parser: a renamed or removed flag, a
    bad choice or a missing argument fails here, not in a reader's terminal."""
    commands = _edgedigits_commands()
    assert len(commands) > 40
    bad = [(page, c, why) for page, c in commands if (why := _parser_verdict(c))]
    assert not bad, bad


def test_the_command_check_catches_a_stale_flag():
    assert _parser_verdict("edgedigits export seed004_cnn --format tflite") is None
    assert "unrecognized" in _parser_verdict("edgedigits export seed004_cnn --formats tflite")
    assert "unknown flags" in _parser_verdict("edgedigits doctor NAME [--quantize R]")


def test_every_python_block_in_the_docs_is_run_by_a_test():
    """Each ``python`` block is preceded by a ``<!-- tested: tests/X.py ... -->`` marker naming a
    test module that reads that page."""
    untested = []
    for page in _doc_pages():
        text = page.read_text()
        for m in re.finditer(r"(<!-- tested: (tests/[\w/]+\.py)[^>]*-->\n)?```python\n", text):
            module = m.group(2)
            if not module or page.name not in (ROOT / module).read_text():
                untested.append(f"{page.relative_to(ROOT)}:{text[: m.start()].count(chr(10)) + 1}")
    assert not untested, untested


def _python_block(page: str) -> str:
    text = (ROOT / page).read_text()
    return (
        text.split("<!-- tested: tests/test_docs.py", 1)[1]
        .split("```python\n", 1)[1]
        .split("```", 1)[0]
    )


@pytest.mark.integration
def test_the_extending_guide_registers_a_model():
    """docs/guides/extending.md's model, registered in a fresh process: listed, built, run."""
    code = _python_block("docs/guides/extending.md") + textwrap.dedent("""
        import edgedigits, numpy as np
        assert "my_mlp" in edgedigits.list_models()
        model = edgedigits.get_spec("my_mlp").build()
        print(model.count_params(), model(np.zeros((1, 784), np.float32)).shape)
    """)
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=ROOT
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.split() == ["25450", "(1,", "10)"]


@pytest.mark.integration
def test_the_python_api_page_runs_as_written(tmp_path):
    """docs/reference/python-api.md's block, in an empty folder with this repository's baseline
    (the gate compares a 1-epoch model against it: the verdict is printed, not asserted)."""
    (tmp_path / "bench").mkdir()
    shutil.copy(ROOT / "bench" / "baseline.json", tmp_path / "bench")
    code = _python_block("docs/reference/python-api.md") + textwrap.dedent("""
        print(type(report).__name__, type(results).__name__, type(check).__name__,
              check.passed, type(verdict).__name__, probs.shape)
    """)
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=1200, cwd=tmp_path
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.split()[-7:] == [
        "ExportReport",
        "BenchReport",
        "VerifyReport",
        "True",
        "GateResult",
        "(8,",
        "10)",
    ]


def test_a_link_to_a_missing_section_is_caught():
    """The anchors are GitHub's: the contract page's picture section is found, a section that
    is not on the README is not."""
    assert "from-a-picture-edgedigitsfrom_image2" in _anchors(ROOT / "docs/reference/contract.md")
    assert "a-five-minute-tour" in _anchors(ROOT / "README.md")
    assert "running-the-gate" not in _anchors(ROOT / "README.md")
