"""Output paths, checked before any work starts.

A path a command will write to (``--out``, ``--json``, ``--markdown``, ``--report-dir``...) is
checked when the command starts, not when the file is finally written: a ``--json`` that names a
folder, or sits under a regular file, or a model folder we cannot write into, must fail in the
first second with the flag's name, not after minutes of training or benching.

"Writable" is proven, not guessed from permission bits (which root ignores and read-only mounts
override): we create the folder and a probe file in it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from edgedigits.errors import UsageError


def _why(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def writable_dir(path: str | os.PathLike[str], flag: str) -> Path:
    """Create ``path`` (and parents) if needed and prove a file can be written inside it.

    ``flag`` names what the user typed (``"--out exports"``, ``"--report-dir r"``); the error is
    ``"<flag>: <path> ..."`` so the user sees which value and which folder.
    """
    path = Path(path)
    for parent in (path, *path.parents):
        if parent.exists() and not parent.is_dir():
            raise UsageError(f"{flag}: {parent} is a file, not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".write-test-"):
            pass
    except OSError as exc:
        raise UsageError(f"{flag}: cannot write into {path} ({_why(exc)})") from None
    return path


def writable_file(path: str | os.PathLike[str], flag: str) -> Path:
    """``path`` can be (re)written atomically: not a folder, its folder writable (created)."""
    path = Path(path)
    if path.is_dir():
        raise UsageError(f"{flag} {path}: is a folder; give a file path")
    if path.name in ("", ".", ".."):
        raise UsageError(f"{flag} {path}: give a file path")
    writable_dir(path.parent, f"{flag} {path}")
    return path
