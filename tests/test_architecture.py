"""The code keeps the layers docs/concepts/architecture.md draws: an import may point down or
sideways, never up, except the back arrows that page lists as debts (each one named here, so
adding one fails and paying one off means deleting its line)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "edgedigits"

# Bottom to top; a unit is a top-level module or subpackage of edgedigits.
LAYERS = [
    {
        "errors",
        "names",
        "inputs",
        "jsonfile",
        "atomic",
        "outputs",
        "folder_commit",
        "_tf",
        "comparator",
        "mcu_budget",
        "plots",
        "markdown",
        "__init__",
    },  # foundation: no model, no data
    {"contract", "project_config"},  # what each recipe promises; what a project asks for
    {"preprocess"},  # a real picture to the model's 28x28: the contract, implemented
    {"data"},  # the digits
    {"zoo"},  # model definitions and their recipes
    {"model_files", "augmentation"},  # a model on disk, read as data; training's input pipeline
    {"training", "training_report"},
    {"model_import", "imported"},  # a user's file, rebuilt and proven; imported models read back
    {"runtimes"},  # one runner per runtime
    {"doctor"},  # int8 pitfalls on a Keras model, and which layer breaks a quantized file
    {"export"},  # artifacts and their records; an --out folder, checked once (workspace)
    {"benchmark", "verify", "classify"},  # measuring and checking artifacts; running them
    {"pipeline", "ci_job", "ci_charts"},  # whole flows: export then bench; base vs head
    {"cli", "__main__", "fuzz"},  # doors; the fuzz tier drives them
]
DEBTS: dict[tuple[str, str], str] = {  # back arrows: (importer, imported) -> why it is there
}


def _unit(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def imports() -> set[tuple[str, str]]:
    """(importer, imported) units, from every import statement, at any depth of the code."""
    edges = set()
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        source = _unit(".".join(rel.parts).removesuffix(".__init__"))
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module == "edgedigits":
                targets = [a.name if a.name != "__version__" else "__init__" for a in node.names]
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("edgedigits."):
                targets = [_unit(node.module)]
            elif isinstance(node, ast.Import):
                targets = [_unit(a.name) for a in node.names if a.name.startswith("edgedigits.")]
            else:
                continue
            edges |= {(source, t) for t in targets if t != source}
    return edges


def test_every_unit_has_a_layer():
    units = {
        p.stem if p.is_file() else p.name
        for p in PACKAGE.iterdir()
        if (p.suffix == ".py" or (p / "__init__.py").is_file())
    }
    placed = set().union(*LAYERS)
    assert units <= placed, f"place these in LAYERS and the architecture page: {units - placed}"


def test_imports_point_down_except_the_listed_debts():
    level = {unit: k for k, layer in enumerate(LAYERS) for unit in layer}
    upward = {(a, b) for a, b in imports() if level[b] > level[a]}
    cycles = {(a, b) for a, b in imports() if level[a] == level[b] and (b, a) in imports()}
    assert upward - set(DEBTS) == set(), f"new back arrows: {sorted(upward - set(DEBTS))}"
    assert set(DEBTS) - upward == set(), f"paid off (delete from DEBTS): {set(DEBTS) - upward}"
    assert not cycles, f"units of one layer that import each other: {sorted(cycles)}"


def test_the_architecture_page_draws_these_layers():
    """docs/concepts/architecture.md's layer table lists the same units, in the same order."""
    page = (PACKAGE.parent / "docs" / "concepts" / "architecture.md").read_text()
    rows = [
        line.split("|")[2]
        for line in page.splitlines()
        if line.startswith("| ") and line.split("|")[1].strip().replace(".", "").isdigit()
    ]
    drawn = [{u.strip(" `") for u in row.split(",")} for row in reversed(rows)]
    assert drawn == [layer - {"__init__"} for layer in LAYERS]


def test_the_layout_page_names_every_unit():
    """docs/reference/layout.md says where each concept lives: every module and package."""
    page = (PACKAGE.parent / "docs" / "reference" / "layout.md").read_text()
    units = {
        p.name + "/" if p.is_dir() else p.name
        for p in PACKAGE.iterdir()
        if p.suffix == ".py" or (p / "__init__.py").is_file()
    } - {"__init__.py"}
    missing = {u for u in units if f"  {u}" not in page}
    assert not missing, f"add to docs/reference/layout.md: {sorted(missing)}"


def _declared_all(module: str) -> set[str] | None:
    """The literal ``__all__`` of an edgedigits module (the top-level package: its lazy API)."""
    parts = module.split(".")
    path = PACKAGE.parent.joinpath(*parts)
    path = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
    if not path.is_file():
        return None
    tree = ast.parse(path.read_text())
    for node in tree.body:
        targets = [t.id for t in getattr(node, "targets", []) if isinstance(t, ast.Name)]
        if module == "edgedigits" and "_API" in targets:
            return set(ast.literal_eval(node.value)) | {"__version__"}
        if "__all__" in targets:
            return set(ast.literal_eval(node.value))
    return None


def test_bench_scripts_use_the_public_api_only():
    """bench/ is the first user of the library: each name it imports is in its module's
    ``__all__`` (a package's, or a module's that declares one), from no private module."""
    misuse = []
    for script in sorted((PACKAGE.parent / "bench").glob("*.py")):
        for node in ast.walk(ast.parse(script.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("edgedigits"):
                module, names = node.module, [a.name for a in node.names]
            elif isinstance(node, ast.Import):
                module = None
                misuse += [
                    f"{script.name}: import {a.name}"
                    for a in node.names
                    if a.name.startswith("edgedigits.")
                ]
                continue
            else:
                continue
            for name in names:
                submodule = _declared_all(f"{module}.{name}")
                public = _declared_all(module) or set()
                if any(p.startswith("_") for p in [*module.split("."), name]):
                    misuse.append(f"{script.name}: from {module} import {name} (private)")
                elif name not in public and submodule is None:
                    misuse.append(
                        f"{script.name}: from {module} import {name} (not in its __all__)"
                    )
    assert not misuse, misuse


def test_markdown_tables_come_from_one_helper():
    """No module or bench script writes a table's separator row by hand: edgedigits/markdown.py
    does (escaping a '|' inside a cell, which a hand-built row would not)."""
    by_hand = [
        f"{path.relative_to(PACKAGE.parent)}:{k}"
        for path in [*PACKAGE.rglob("*.py"), *(PACKAGE.parent / "bench").glob("*.py")]
        if path.name != "markdown.py"
        for k, line in enumerate(path.read_text().splitlines(), 1)
        if '"|---' in line or "'|---" in line
    ]
    assert not by_hand, by_hand


def test_the_python_api_page_lists_public_names_only():
    """docs/reference/python-api.md's "What is public" table: each name it shows for a module is
    in that module's ``__all__``."""
    page = (PACKAGE.parent / "docs" / "reference" / "python-api.md").read_text()
    section = page.split("## What is public", 1)[1]
    wrong = []
    for line in section.splitlines():
        cells = line.split("|")
        if len(cells) < 4 or not cells[1].strip().startswith("`edgedigits"):
            continue
        module = cells[1].strip(" `")
        offered = cells[2].split("(", 1)[0] if module == "edgedigits" else cells[2]
        names = re.findall(r"`([A-Za-z_][A-Za-z0-9_]*)`", offered)
        public = _declared_all(module) or set()
        wrong += [f"{module}.{n}" for n in names if n not in public]
    assert not wrong, wrong


MAX_MODULE_LINES = 450  # one job per module (issue 38: six modules had grown past 500)


def test_no_module_is_over_450_lines():
    """A module past this has two jobs; split it along its seam (keras_json became
    keras_args, keras_layers, architecture and keras_json; verify a package)."""
    long = {
        str(path.relative_to(PACKAGE)): n
        for path in PACKAGE.rglob("*.py")
        if (n := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert not long, long
