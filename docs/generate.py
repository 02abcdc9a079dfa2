"""The reference pages generated from the code, so they cannot drift from it.

``docs/reference/cli-help.md`` is every command's ``--help`` (from the parser);
``docs/reference/contract.md`` the recipe and target tables with each recipe's tolerance (from
``edgedigits.contract``); and in ``docs/reference/cli.md``, written by hand, each command's flag
table between ``<!-- flags: COMMAND -->`` markers, from the parser's help strings (so a default
or a flag cannot be described one way there and behave another; a command without its block is
an error). ``python docs/generate.py`` rewrites them; ``python docs/generate.py --check`` (and
``tests/test_docs.py``) fails when a committed page differs from what the code prints.

It is a development tool, not part of the package: nothing in ``edgedigits`` imports it.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

from edgedigits.markdown import table

WIDTH = "100"  # argparse wraps help to the terminal; the page is generated at a fixed width
REGENERATE = "python docs/generate.py"
ROOT = Path(__file__).resolve().parents[1]


@contextlib.contextmanager
def _columns(width: str) -> Iterator[None]:
    """argparse wraps help to ``$COLUMNS``: set for the page, then put back as it was."""
    before = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = width
    try:
        yield
    finally:
        if before is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = before


def _commands() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    from edgedigits.cli import build_parser

    parser = build_parser()
    sub = next(
        a
        for a in parser._actions  # noqa: SLF001 - argparse keeps its subparsers here
        if isinstance(a, argparse._SubParsersAction)  # noqa: SLF001
    )
    return parser, dict(sub.choices)


def cli_help_markdown() -> str:
    with _columns(WIDTH):
        parser, commands = _commands()
        return _cli_help(parser, commands)


def _cli_help(parser: argparse.ArgumentParser, commands: dict) -> str:
    parts = [
        "# `edgedigits --help`, every command",
        "",
        f"Generated from the parser by `{REGENERATE}`; `tests/test_docs.py` fails when it is "
        "stale. What the commands do, with examples: [cli.md](cli.md).",
        "",
        "## `edgedigits`",
        "",
        "```text",
        parser.format_help().rstrip(),
        "```",
    ]
    for name, command in commands.items():
        parts += [
            "",
            f"## `edgedigits {name}`",
            "",
            "```text",
            command.format_help().rstrip(),
            "```",
        ]
    return "\n".join(parts) + "\n"


def _percent(fraction: float) -> str:
    return f"{100 * fraction:g}%"


def contract_markdown() -> str:
    from edgedigits.comparator import Tolerance
    from edgedigits.contract import (
        FORMAT_RECIPES,
        RECIPE_INFO,
        REFERENCE_TOLERANCE,
        TARGETS,
        Format,
    )

    def promise(t: Tolerance) -> list[str]:
        return [
            _percent(t.min_agreement),
            f"{t.max_accuracy_drop:g}",
            "not judged" if t.max_abs_diff is None else f"{t.max_abs_diff:g}",
        ]

    rows = []
    for recipe, info in RECIPE_INFO.items():
        needs = [
            need
            for need, yes in (
                ("calibration images", info.calibrated),
                ("fine-tuning", info.finetuned),
            )
            if yes
        ]
        formats = [f.value for f in Format if recipe in FORMAT_RECIPES[f]]
        conversion = (
            f"as `{info.converts_as.value}`, against the fine-tuned model"
            if info.converts_as
            else "none: it converts the trained model"
        )
        rows.append(
            [
                f"`{recipe.value}`",
                info.summary,
                ", ".join(formats),
                ", ".join(needs) or "nothing",
                info.family,
                *promise(info.tolerance),
                f"{info.golden_atol:.3g}",
                conversion,
            ]
        )
    targets = [
        [
            f"`{t.value}`",
            i.summary,
            i.app_runtimes,
            ", ".join(f.value for f in i.formats),
            ", ".join(r.value for r in i.recipes),
            i.variant.io.value,
            "dynamic" if i.variant.batch is None else i.variant.batch,
        ]
        for t, i in TARGETS.items()
    ]
    lines = [
        "# The contract: recipes, their promises, targets",
        "",
        f"Generated from `edgedigits/contract/` by `{REGENERATE}`; `tests/test_docs.py` fails "
        "when it is stale. What the figures mean: "
        "[../concepts/parity-and-tolerances.md](../concepts/parity-and-tolerances.md).",
        "",
        "## Recipes",
        "",
        "Each artifact is judged against the **trained** Keras model by its recipe's tolerance, "
        "the same way by `export` (on its `--verify-samples` test images, recorded in the "
        "manifest's `parity`) and by `bench` (on the test set, or `--test-limit` of it). "
        "A fine-tuned recipe's file must also be a faithful conversion of its fine-tuned model, "
        "by the tolerance of the recipe named in the last column (`parity.conversion`).",
        "",
        *table(
            [
                "recipe",
                "what it is",
                "formats",
                "needs",
                "family",
                "min agreement",
                "max accuracy drop (points)",
                "max abs diff",
                "golden atol",
                "conversion check",
            ],
            rows,
            "lllllrrrrl",
        ),
        "",
        "The Keras model under another runtime (`keras-predict`, `tensorflow-gpu` in bench) is "
        "held to: min agreement {}, max accuracy drop {} points, max abs diff {}.".format(
            *promise(REFERENCE_TOLERANCE)
        ),
        "",
        "`golden atol` is how far an app's run of *this* file may be from its golden output "
        "(`verify`, and an app's own unit test); integer outputs also carry their raw values.",
        "",
        "## Targets",
        "",
        "What each app runtime loads (`export --target`); `--format`, `--quant`, `--io` and "
        "`--batch` narrow or override it.",
        "",
        *table(
            ["target", "where", "app runtime", "formats", "recipes", "TFLite I/O", "batch"], targets
        ),
        "",
        *preprocessing_lines(),
    ]
    return "\n".join(lines) + "\n"


def preprocessing_lines() -> list[str]:
    """The preprocessing contract's steps, as ``contract/preprocessing.py`` declares them."""
    from edgedigits.contract.preprocessing import from_image_contract

    contract = from_image_contract()
    where = ", ".join(f"{k}: `{v}`" for k, v in contract["implementations"].items())
    return [
        f"## From a picture: `{contract['name']}`",
        "",
        "How a canvas, a camera frame or a picture file becomes the 28x28 image a model takes, "
        "before its `from_pixels` rule (every manifest's `interface.input.from_image`, the "
        "`.tflite`'s and ONNX file's metadata, and the C header name it). Integer arithmetic "
        f"throughout, so the three implementations give the same bytes ({where}). Why: "
        "[preprocessing.md](../concepts/preprocessing.md).",
        "",
        *(f"{k}. {step}" for k, step in enumerate(contract["steps"], 1)),
    ]


FLAGS_BLOCK = re.compile(
    r"(<!-- flags: (?P<command>[a-z-]+) -->\n)(?P<body>.*?)(<!-- /flags -->)", re.DOTALL
)


def flag_table(command: argparse.ArgumentParser) -> list[str]:
    """One row per optional flag: how it is written and its help, as ``--help`` says it."""
    formatter = command._get_formatter()  # noqa: SLF001 - argparse's own wording of each flag
    rows = []
    for action in command._actions:  # noqa: SLF001
        if not action.option_strings or action.help == argparse.SUPPRESS:
            continue
        if isinstance(action, argparse._HelpAction):  # noqa: SLF001
            continue
        written = formatter._format_action_invocation(action)  # noqa: SLF001
        meaning = formatter._expand_help(action) if action.help else ""  # noqa: SLF001
        rows.append([f"`{written}`", meaning])
    return table(["flag", "meaning"], rows)


def cli_markdown() -> str:
    """``docs/reference/cli.md`` with every command's flag block filled from the parser."""
    page = (ROOT / CLI_PAGE).read_text()
    with _columns(WIDTH):
        _, commands = _commands()
    found = {m.group("command") for m in FLAGS_BLOCK.finditer(page)}
    missing = sorted(set(commands) - found)
    unknown = sorted(found - set(commands))
    if missing or unknown:
        raise SystemExit(
            f"{CLI_PAGE}: no flags block for {missing or 'none'}; "
            f"a block for no command: {unknown or 'none'}"
        )

    def fill(match: re.Match) -> str:
        rows = flag_table(commands[match.group("command")])
        return match.group(1) + "\n".join(rows) + "\n" + match.group(4)

    return FLAGS_BLOCK.sub(fill, page)


CLI_PAGE = "docs/reference/cli.md"
PAGES: dict[str, Callable[[], str]] = {
    "docs/reference/cli-help.md": cli_help_markdown,
    "docs/reference/contract.md": contract_markdown,
    CLI_PAGE: cli_markdown,
}


def stale_pages(root: Path) -> list[str]:
    """The generated pages under ``root`` whose committed text differs from the code's."""
    return [
        page
        for page, make in PAGES.items()
        if not (root / page).is_file() or (root / page).read_text() != make()
    ]


def main(argv: list[str]) -> int:
    root = ROOT
    if argv == ["--check"]:
        stale = stale_pages(root)
        for page in stale:
            print(f"{page}: stale; run {REGENERATE}", file=sys.stderr)
        return 1 if stale else 0
    if argv:
        print(f"usage: {REGENERATE} [--check]", file=sys.stderr)
        return 2
    for page, make in PAGES.items():
        (root / page).write_text(make())
        print(f"wrote {page}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
