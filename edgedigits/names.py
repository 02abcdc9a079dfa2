"""Comma-separated names, as ``--format``, ``--quant`` and ``--runtimes`` take them.

One parser for all three, so ``"tflite, ONNX"``, ``["tflite", "onnx"]`` and ``["tflite,onnx"]``
mean the same everywhere.
"""

from __future__ import annotations

from collections.abc import Iterable


def split_names(values: str | Iterable[str]) -> list[str]:
    """``"a, B,,c"`` or ``["a", "b,c"]`` -> ``["a", "b", "c"]``: split on commas, strip, lower."""
    items = (
        values.split(",")
        if isinstance(values, str)
        else [part for value in values for part in str(value).split(",")]
    )
    return [item.strip().lower() for item in items if item.strip()]
