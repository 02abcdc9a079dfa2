"""Atomic file writes: write beside the target under a temporary name, then rename into place.

``os.replace`` is atomic on POSIX within one filesystem, so a reader (or a mobile build that copies
``exports/``) sees either the old complete file or the new complete one, never a truncated file.
An exception or interrupt while writing removes the temporary file and leaves the old one intact.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["StagedFile", "atomic_path", "json_bytes", "write_bytes", "write_json", "write_text"]


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success rename it onto ``target``.

    The temporary name keeps ``target``'s suffix because some writers (Keras' ``model.save``,
    matplotlib's ``savefig``) choose the format from it.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(
        prefix=_prefix(target), suffix=f".tmp{target.suffix}", dir=target.parent
    )
    os.close(fd)
    tmp = Path(tmp_name)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file normal permissions
    try:
        yield tmp
        os.replace(tmp, target)
    except OSError as exc:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        if exc.filename is None:  # a write() error names no file: name the one being written
            raise OSError(exc.errno, exc.strerror, str(target)) from None
        raise
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


class StagedFile:
    """A file written under a temporary name beside ``target`` and renamed onto it only when
    :meth:`commit` is called, so a caller can check the new bytes (run them, record them) before
    they replace anything. Leaving the ``with`` block without committing removes the temp file.
    """

    def __init__(self, target: str | os.PathLike[str]):
        self.target = Path(target)
        self.target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(
            prefix=_prefix(self.target),
            suffix=f".tmp{self.target.suffix}",
            dir=self.target.parent,
        )
        os.close(fd)
        self.path = Path(tmp_name)
        os.chmod(self.path, 0o666 & ~_umask())
        self.committed = False

    def write_bytes(self, data: bytes) -> StagedFile:
        self.path.write_bytes(data)
        return self

    def commit(self) -> None:
        os.replace(self.path, self.target)
        self.committed = True

    def discard(self) -> None:
        if not self.committed:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()

    def __enter__(self) -> StagedFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.discard()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _prefix(target: Path) -> str:
    """``.<stem>.<pid>-``: the writer's process id in every temporary name, so that what a
    killed writer left can be told from a write in flight (``sweep_dead``)."""
    return f".{target.stem}.{os.getpid()}-"


_TEMPORARY = re.compile(r"^\..+\.(\d+)-[^/]*\.tmp(\.[^.]+)?$")


def sweep_dead(folder: str | os.PathLike[str]) -> None:
    """Delete the temporary files in ``folder`` whose writing process is gone (killed between
    its write and its rename). Files shared by a whole ``--out`` (``zoo_accuracy.png``) have no
    folder commit to sweep them; a model folder's commit calls this on its parent."""
    for path in Path(folder).glob(".*.tmp*"):
        match = _TEMPORARY.match(path.name)
        if match and not process_alive(match.group(1)):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()


def process_alive(pid: int | str) -> bool:
    """Whether process ``pid`` still runs (a name's pid field that is not a number: no)."""
    try:
        os.kill(int(pid), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True


def write_bytes(target: str | os.PathLike[str], data: bytes) -> None:
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def write_text(target: str | os.PathLike[str], text: str) -> None:
    write_bytes(target, text.encode("utf-8"))


def json_bytes(obj: Any) -> bytes:
    """The one JSON layout every file edgedigits writes uses (indented, a final newline)."""
    return (json.dumps(obj, indent=2, sort_keys=False) + "\n").encode("utf-8")


def write_json(target: str | os.PathLike[str], obj: Any) -> None:
    write_bytes(target, json_bytes(obj))
