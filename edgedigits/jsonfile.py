"""Reading JSON the toolkit is handed: a file a user names on a flag (``--baseline``,
``--tolerances``) or a record in a model folder (``manifest.json``, ``golden.json``,
``metrics.json``).

Plain JSON only: never pickle or anything that executes code. Each read is bounded before it
starts: the path must be a regular file (a named pipe would block the read forever, a device
never ends), no larger than the stated limit (checked on the open file, before reading), and no
deeper than ``MAX_DEPTH`` levels (Python's parser would raise RecursionError). Errors are one
line naming the file.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from edgedigits.errors import UsageError
from edgedigits.inputs import open_regular

MAX_DEPTH = 64  # our documents nest ~6 deep; a bench report or manifest never needs more
FLAG_FILE_BYTES = 64 << 20  # a --baseline: the whole zoo's bench report is ~3 MB
RECORD_BYTES = 32 << 20  # manifest/golden/metrics of one model folder: ~0.1-0.5 MB


def read_bounded(
    path: str | Path, fail: Callable[[str], Exception], max_bytes: int = RECORD_BYTES
) -> Any:
    """The JSON document at ``path``; ``fail(reason)`` makes the error for every refusal.
    A missing file raises FileNotFoundError (callers decide whether that is an error)."""
    with open_regular(path, fail, max_bytes) as (handle, _size):
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:  # it grew while we read
        raise fail(f"over the {max_bytes:,}-byte limit")
    return parse_bounded(data, fail)


def parse_bounded(
    text: str | bytes, fail: Callable[[str], Exception], max_depth: int = MAX_DEPTH
) -> Any:
    """JSON from ``text``, no deeper than ``max_depth`` levels (never a RecursionError)."""
    try:
        doc = json.loads(text)
    except RecursionError:
        raise fail("JSON nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise fail(f"not valid JSON ({str(exc)[:120]})") from None
    if depth(doc, max_depth) > max_depth:
        raise fail(f"JSON nested deeper than {max_depth} levels")
    return doc


def depth(doc: Any, limit: int = MAX_DEPTH) -> int:
    """How deep ``doc`` nests, counting up to just past ``limit`` (iterative: no recursion)."""
    deepest, stack = 0, [(doc, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, (dict, list)):
            level += 1
            deepest = max(deepest, level)
            if level > limit:
                return level
            stack.extend((v, level) for v in (item.values() if isinstance(item, dict) else item))
    return deepest


def read_json(path: str | Path, flag: str) -> Any:
    """A JSON file named on ``flag``; one-line UsageError naming the flag and the file."""
    path = Path(path)

    def fail(reason: str) -> UsageError:
        return UsageError(f"{flag} {path}: {reason}")

    try:
        return read_bounded(path, fail, FLAG_FILE_BYTES)
    except FileNotFoundError:
        raise UsageError(f"{flag} {path}: file not found") from None


def list_of_objects(
    doc: dict[str, Any], key: str, noun: str, fail: Callable[[str], Exception]
) -> list[dict[str, Any]]:
    """``doc[key]`` checked to be a list of JSON objects; ``fail(message)`` makes the error."""
    items = doc.get(key)
    if not isinstance(items, list):
        raise fail(f"'{key}' must be a list of {noun}")
    for k, item in enumerate(items):
        if not isinstance(item, dict):
            raise fail(f"{key}[{k}] is not an object")
    return items


def schema_violation(doc: Any, schema: dict[str, Any]) -> str | None:
    """The first place ``doc`` breaks ``schema`` (a JSON Schema 2020-12), as ``at $.path:
    message`` cut to one short line; None when it conforms. Every document we read back is held
    to the schema we publish for it, so a field of the wrong type never reaches the code."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema)
    error = jsonschema.exceptions.best_match(validator.iter_errors(doc))
    if error is None:
        return None
    message = error.message if len(error.message) <= 160 else error.message[:157] + "..."
    return f"at {error.json_path}: {message}"
