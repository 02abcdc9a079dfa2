"""Markdown tables, one way: every report and generated page builds its tables here.

A table is a header, rows and an alignment per column (``l`` or ``r``: numbers right-aligned so
their digits line up in a rendered page). Cells are ``str()``-ed and ``|`` in a cell is escaped,
so a file name or a reason can never break a row.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

__all__ = ["table"]


def _cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def table(header: Sequence[str], rows: Iterable[Sequence[Any]], align: str = "") -> list[str]:
    """The lines of a Markdown table. ``align``: one ``l``/``r`` per column (default: all left).

    >>> print("\\n".join(table(["model", "accuracy %"], [["mlp", 97.5]], "lr")))
    | model | accuracy % |
    |---|---:|
    | mlp | 97.5 |
    """
    align = align or "l" * len(header)
    if len(align) != len(header) or set(align) - {"l", "r"}:
        raise ValueError(f"align {align!r}: one 'l' or 'r' per column ({len(header)})")
    lines = [
        "| " + " | ".join(_cell(h) for h in header) + " |",
        "|" + "|".join("---:" if a == "r" else "---" for a in align) + "|",
    ]
    for row in rows:
        if len(row) != len(header):
            raise ValueError(f"a row of {len(row)} cells in a table of {len(header)} columns")
        lines.append("| " + " | ".join(_cell(c) for c in row) + " |")
    return lines
