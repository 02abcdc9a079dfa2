"""``docs/reference/cli-help.md``: every command's ``--help``, generated from the parser.

The command reference must not drift from the flags the code accepts, so this page is not
written by hand: ``python -m edgedigits.docs_cli > docs/reference/cli-help.md`` regenerates it,
and ``tests/test_docs.py`` fails when the committed page differs from what the parser prints.
"""

from __future__ import annotations

import argparse
import os

WIDTH = "100"  # argparse wraps help to the terminal; the page is generated at a fixed width


def cli_help_markdown() -> str:
    os.environ["COLUMNS"] = WIDTH
    from edgedigits.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions  # noqa: SLF001 - argparse keeps its subparsers here
               if isinstance(a, argparse._SubParsersAction))  # noqa: SLF001
    parts = ["# `edgedigits --help`, every command", "",
             "Generated from the parser by `python -m edgedigits.docs_cli > "
             "docs/reference/cli-help.md`; `tests/test_docs.py` fails when it is stale. What the "
             "commands do, with examples: [cli.md](cli.md).", "",
             "## `edgedigits`", "", "```text", parser.format_help().rstrip(), "```"]
    for name, command in sub.choices.items():
        parts += ["", f"## `edgedigits {name}`", "", "```text", command.format_help().rstrip(),
                  "```"]
    return "\n".join(parts) + "\n"


if __name__ == "__main__":
    print(cli_help_markdown(), end="")
