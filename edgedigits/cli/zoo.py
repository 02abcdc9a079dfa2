"""``edgedigits zoo``: the registry, as a table, names or JSON."""

from __future__ import annotations

import argparse
import json
from typing import Any

from edgedigits.cli._args import (
    _command,
)


def cmd_zoo(args: argparse.Namespace) -> int:
    from edgedigits.zoo import describe_models, list_models

    if args.names:
        print("\n".join(list_models()))
        return 0
    rows = describe_models()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    header = ("name", "source", "params", "shipped %", "architecture", "recipe")
    table = [header] + [
        (
            r["name"],
            r["source"],
            f"{r['params']:,}",
            f"{r['pretrained']['test_accuracy']:.2f}" if r["pretrained"] else "-",
            r["architecture"],
            r["recipe"],
        )
        for r in rows
    ]
    if args.markdown:
        from edgedigits.markdown import table as markdown_table

        print("\n".join(markdown_table(header, table[1:], "llrrll")))
        return 0
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for k, row in enumerate(table):
        print(
            "  ".join(
                cell.rjust(w) if i in (2, 3) else cell.ljust(w)
                for i, (cell, w) in enumerate(zip(row, widths))
            ).rstrip()
        )
        if k == 0:
            print("  ".join("-" * w for w in widths))
    return 0


def add_parser(sub: Any) -> None:
    zoo = _command(
        sub,
        cmd_zoo,
        "zoo",
        help="list the model zoo with provenance and parameter counts",
        description="List every zoo model: name, seed project, parameter count, "
        "architecture and training recipe.",
    )
    fmt = zoo.add_mutually_exclusive_group()
    fmt.add_argument("--names", action="store_true", help="names only, one per line (fast)")
    fmt.add_argument("--json", action="store_true", help="full records as JSON")
    fmt.add_argument("--markdown", action="store_true", help="a Markdown table")
