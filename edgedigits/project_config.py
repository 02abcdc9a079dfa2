"""A project's configuration: ``[tool.edgedigits]`` in ``pyproject.toml``, or ``edgedigits.toml``.

What an app's repository writes once so that ``edgedigits export``, ``bench``, ``pipeline`` and
``ci`` need no names: its models (zoo names or model files such as ``models/digits.keras``,
imported on the way), the targets and recipes it ships, budgets its files must hold, and the
gate's thresholds. Example::

    [tool.edgedigits]
    models = ["models/digits.keras"]
    targets = ["web", "mobile", "server"]
    recipes = ["float32", "int8", "dynamic"]   # optional filter on what the targets take

    [tool.edgedigits.budgets]                   # checked on the head's files by 'ci'
    max_size_bytes = 250000
    min_accuracy = 95.0

    [tool.edgedigits.gate]
    max_slowdown = 1.10            # the 95% interval's lower bound above this fails
    max_instruction_growth = 1.01  # instructions per inference under Valgrind
    base = "origin/main"           # what 'edgedigits ci' compares with
    export_with = "installed"      # or "revision": each tree's own edgedigits (edgedigits' CI)

The file is checked against ``SCHEMA`` before anything runs; each mistake is one line naming the
file and the key (``pyproject.toml: [tool.edgedigits] gate.max_slowdown: ...``).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgedigits.errors import UnknownNameError, UsageError
from edgedigits.inputs import open_regular

__all__ = ["ProjectConfig", "check_names", "find_config", "is_file_name", "load_config"]

MAX_CONFIG_BYTES = 1 << 20
_NAMES = {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1}
SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "models": _NAMES,
        "targets": _NAMES,
        "formats": _NAMES,
        "recipes": _NAMES,
        "out": {"type": "string", "minLength": 1},
        "budgets": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "max_size_bytes": {"type": "integer", "exclusiveMinimum": 0},
                "min_accuracy": {"type": "number", "minimum": 0, "maximum": 100},
                "max_latency_us": {"type": "number", "exclusiveMinimum": 0},
            },
        },
        "gate": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "max_slowdown": {"type": "number", "exclusiveMinimum": 1},
                "max_instruction_growth": {"type": "number", "exclusiveMinimum": 1},
                "rounds": {"type": "integer", "minimum": 5, "maximum": 1000},
                "instructions": {"enum": ["auto", "yes", "no"]},
                "base": {"type": "string", "minLength": 1},
                "export_with": {"enum": ["installed", "revision"]},
            },
        },
    },
}


@dataclass(frozen=True)
class ProjectConfig:
    """The checked configuration; ``root`` is the folder its paths are relative to."""

    path: Path
    root: Path
    models: tuple[str, ...] = ()
    targets: tuple[str, ...] = ()
    formats: tuple[str, ...] = ()
    recipes: tuple[str, ...] = ()
    out: str = "exports"
    budgets: dict[str, float] = field(default_factory=dict)
    gate: dict[str, Any] = field(default_factory=dict)

    def model_names(self) -> list[str]:
        """Zoo names as written; model files as paths from the project's root."""
        return [str(self.root / m) if is_file_name(m) else m for m in self.models]


def is_file_name(name: str) -> bool:
    return name.lower().endswith((".keras", ".h5", ".hdf5")) or "/" in name


def find_config(start: str | Path = ".") -> Path | None:
    """``edgedigits.toml``, else a ``pyproject.toml`` with ``[tool.edgedigits]``, in ``start``."""
    folder = Path(start)
    if (folder / "edgedigits.toml").is_file():
        return folder / "edgedigits.toml"
    pyproject = folder / "pyproject.toml"
    if pyproject.is_file():
        try:
            tool = _read_toml(pyproject).get("tool")
            if isinstance(tool, dict) and "edgedigits" in tool:
                return pyproject
        except UsageError:
            return pyproject  # a broken file is reported when it is loaded
    return None


def _read_toml(path: Path) -> dict[str, Any]:
    def fail(why: str) -> UsageError:
        return UsageError(f"{path}: {why}")

    try:
        with open_regular(path, fail, MAX_CONFIG_BYTES) as (f, _):
            return tomllib.loads(f.read().decode("utf-8"))
    except FileNotFoundError:
        raise fail("no such file") from None
    except UnicodeDecodeError:
        raise fail("not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise fail(f"not valid TOML ({exc})") from None
    except RecursionError:  # arrays or inline tables nested thousands deep
        raise fail("not valid TOML (nested too deep)") from None


def load_config(path: str | Path) -> ProjectConfig:
    """Read and check the configuration at ``path`` (``pyproject.toml`` or ``edgedigits.toml``)."""
    import jsonschema

    path = Path(path)
    doc = _read_toml(path)
    section = "[tool.edgedigits]" if path.name == "pyproject.toml" else "the file"
    if path.name == "pyproject.toml":
        tool = doc.get("tool")
        doc = tool.get("edgedigits") if isinstance(tool, dict) else None
        if doc is None:
            raise UsageError(f"{path}: no [tool.edgedigits] table")
    validator = jsonschema.Draft202012Validator(SCHEMA)
    errors = sorted(validator.iter_errors(doc), key=lambda e: [str(k) for k in e.absolute_path])
    if errors:
        error = errors[0]
        key = ".".join(str(k) for k in error.absolute_path)
        if error.validator == "additionalProperties":
            extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
            where = ".".join(filter(None, [key, extra[0]]))
            allowed = ", ".join(error.schema.get("properties", {}))
            raise UsageError(f"{path}: {section} {where}: unknown key (known: {allowed})")
        raise UsageError(f"{path}: {section} {key or '(top)'}: {error.message}")
    return ProjectConfig(
        path=path,
        root=path.parent,
        models=tuple(doc.get("models", ())),
        targets=tuple(doc.get("targets", ())),
        formats=tuple(doc.get("formats", ())),
        recipes=tuple(doc.get("recipes", ())),
        out=doc.get("out", "exports"),
        budgets=dict(doc.get("budgets", {})),
        gate=dict(doc.get("gate", {})),
    )


def check_names(config: ProjectConfig) -> None:
    """Targets, formats and recipes name things edgedigits has (one line naming the key)."""
    from edgedigits.contract.recipes import parse_formats, parse_recipes
    from edgedigits.contract.targets import parse_targets

    where = f"{config.path}: [tool.edgedigits]"
    try:
        if config.targets:
            parse_targets(list(config.targets))
        formats = parse_formats(list(config.formats)) if config.formats else None
        if config.recipes:
            from edgedigits.contract.recipes import Format

            parse_recipes(list(config.recipes), formats or list(Format))
    except (UsageError, UnknownNameError) as exc:
        flag = str(exc).split(" ", 1)[0].lstrip("-")
        key = {"target": "targets", "format": "formats", "quant": "recipes"}.get(flag, flag)
        raise UsageError(f"{where} {key}: {str(exc).split(': ', 1)[-1]}") from None
