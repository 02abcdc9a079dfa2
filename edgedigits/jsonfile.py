"""Reading a JSON file a user names on a flag (``--baseline``, ``--tolerances``).

Plain JSON only: never pickle or anything that executes code. Errors are one line naming the flag
and the file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

from edgedigits.errors import UsageError


def read_json(path: str | Path, flag: str) -> Any:
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{flag} {path}: file not found") from None
    except (OSError, ValueError) as exc:
        raise UsageError(f"{flag} {path}: not valid JSON ({exc})") from None


def list_of_objects(doc: dict[str, Any], key: str, noun: str,
                    fail: Callable[[str], Exception]) -> list[dict[str, Any]]:
    """``doc[key]`` checked to be a list of JSON objects; ``fail(message)`` makes the error."""
    items = doc.get(key)
    if not isinstance(items, list):
        raise fail(f"'{key}' must be a list of {noun}")
    for k, item in enumerate(items):
        if not isinstance(item, dict):
            raise fail(f"{key}[{k}] is not an object")
    return items
