"""One ``--out`` folder as a command sees it, checked once.

A command's pre-flight is: which models (zoo names, models trained or imported under ``--out``,
a ``.keras``/``.h5`` path imported first), each model folder a folder that can be written, and
its records (``manifest.json``, ``golden.json``, ``metrics.json``) readable. ``pipeline`` used
to run it three times, once in its own body and again inside ``export`` and ``bench``, each
resolving the names and reading every manifest anew. :meth:`Workspace.open` runs it once;
``export`` and ``bench`` given a workspace take its models and skip their own.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Workspace"]


@dataclass(frozen=True)
class Workspace:
    """An output folder and the models a command works on in it, pre-flight done."""

    out: Path
    names: tuple[str, ...]

    @classmethod
    def open(
        cls,
        names: Sequence[str],
        *,
        out: str | Path,
        all_models: bool = False,
        data: str | Path | None = None,
        default: Sequence[str] = (),
        log: Callable[[str], None] = print,
    ) -> Workspace:
        """Resolve ``names`` (files imported first, imported models registered; ``default``
        when none are given and not ``all_models``), then check ``out`` and every model folder
        and its records: one line naming the flag or file for anything wrong, before any work."""
        from edgedigits.imported import resolve_names
        from edgedigits.model_import import import_files

        names = import_files(list(names), out=out, data=data, log=log)
        chosen = resolve_names(names or ([] if all_models else list(default)), all_models, out)
        return cls.checked(out, chosen)

    @classmethod
    def checked(cls, out: str | Path, names: Sequence[str]) -> Workspace:
        """The pre-flight on names already resolved: ``out`` and each model folder writable,
        each folder's records readable (``artifact_store.check_export_folders``)."""
        from edgedigits.export.artifact_store import check_export_folders

        return cls(check_export_folders(out, list(names)), tuple(names))
