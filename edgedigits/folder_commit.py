"""A model folder changes in one step: the old state or the new one, never a mix.

An app's CI (``edgedigits verify``) holds a model folder's files against its ``manifest.json``
and ``golden.json``. Renaming each file into place atomically is not enough: an artifact, its
golden entry, its manifest record and the ORT operator config are four files, and a process
killed between two renames leaves a folder that matches neither the old manifest nor a new one.

So every change to ``<out>/<model>/`` is a *commit* (:func:`commit`):

1. take the folder's lock (``<out>/.<model>.lock``, an exclusive ``flock``: two writers on one
   ``--out`` take turns, and each builds on what the other committed);
2. make a stage folder beside it (``<out>/.<model>.stage-*``) holding hard links to every
   current file (cheap: nothing is copied, and files are only ever replaced, never rewritten in
   place, so a link never sees a change);
3. let the caller add, replace and remove files there, the manifest and golden vectors last;
4. swap the stage and the folder in one ``renameat2(RENAME_EXCHANGE)`` (Linux); the old state,
   now under the stage's name, is removed.

A kill before step 4 leaves the folder as it was (and a hidden stage folder, swept by the next
commit); a kill after it leaves the new state. ``verify`` takes the same lock shared
(:func:`reading`), so it never reads half of one state and half of the next.

Where the kernel or filesystem cannot exchange two folders, the swap is two renames (folder
aside, stage in); a kill between them leaves no folder and a ``.<model>.old-*`` one, which the
next commit renames back before anything else.

Links: a model folder that is a symbolic link is refused before any work (:func:`check_not_link`):
the swap would replace the link, and writing through it would write outside ``--out``. A file
inside a folder that is a link is carried over as the link; a name edgedigits writes replaces the
link with a real file and never writes through it.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TypeVar

from edgedigits import atomic
from edgedigits.errors import DiskFullError, UsageError, is_disk_full

T = TypeVar("T")
LOCK, STAGE, OLD, WORK = ".lock", ".stage-", ".old-", ".work-"
_RENAME_EXCHANGE = 2  # linux/fs.h
NOT_PERMITTED = (errno.EPERM, errno.EACCES, errno.EROFS)


def lock_path(folder: Path) -> Path:
    return folder.parent / f".{folder.name}{LOCK}"


def check_not_link(folder: Path, flag: str) -> None:
    """Refuse a model folder that is a symbolic link (see the module docstring)."""
    if folder.is_symlink():
        raise UsageError(
            f"{flag}: {folder} is a symbolic link (to {os.readlink(folder)}); "
            "edgedigits does not write through links: replace it with a folder"
        )


@contextlib.contextmanager
def _locked(folder: Path, shared: bool) -> Iterator[None]:
    try:
        import fcntl
    except ImportError:  # no flock (Windows): one writer at a time is the user's to keep
        yield
        return
    path = lock_path(folder)
    try:
        fd = os.open(path, os.O_RDONLY | (0 if shared else os.O_CREAT), 0o666)
    except OSError:
        if not shared:
            raise
        yield  # a reader of a folder with no lock file (read-only, or never written here)
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def reading(folder: Path) -> contextlib.AbstractContextManager[None]:
    """Hold ``folder`` still while it is read: no commit swaps it meanwhile."""
    return _locked(folder, shared=True)


def commit(folder: Path, build: Callable[[Path], T], *, what: str = "files") -> T:
    """Apply ``build(stage)`` to a linked copy of ``folder`` and swap it in; see the module doc.

    ``build`` may add, replace (``os.replace`` onto a name) and remove files in ``stage``, but
    never write into an existing file (it is a hard link to the live one). A full disk anywhere
    ends in ``DiskFullError`` naming the folder, which is left exactly as it was.
    """
    folder = Path(folder)
    check_not_link(folder, str(folder))
    folder.parent.mkdir(parents=True, exist_ok=True)
    with _locked(folder, shared=False):
        _recover(folder)
        stage = Path(tempfile.mkdtemp(prefix=f".{folder.name}{STAGE}", dir=folder.parent))
        try:
            if folder.is_dir():
                _link_tree(folder, stage)
            else:
                os.chmod(stage, 0o777 & ~_umask())
            result = build(stage)
            _swap(stage, folder)
        except OSError as exc:
            shutil.rmtree(stage, ignore_errors=True)
            if is_disk_full(exc):
                raise DiskFullError(
                    f"{folder}: no space left on the device while writing "
                    f"{what}; the folder was not changed (its earlier files and "
                    "manifest are as they were)"
                ) from None
            if exc.errno in NOT_PERMITTED:  # immutable (chattr +i), read-only, not ours
                raise UsageError(
                    f"{folder}: cannot be changed ({exc.strerror}; immutable, read-only or "
                    f"another user's?) while writing {what}; the folder was not changed"
                ) from None
            raise
        except BaseException:
            shutil.rmtree(stage, ignore_errors=True)
            raise
        shutil.rmtree(stage, ignore_errors=True)  # the old state, swapped out
        return result


def commit_files(folder: Path, files: Mapping[str, bytes | Path], *, what: str = "files") -> None:
    """Commit ``files`` (bytes, or a finished file to move in) into ``folder`` together."""

    def build(stage: Path) -> None:
        for name, data in files.items():
            if isinstance(data, Path):
                os.replace(data, stage / name)
            else:
                write_new(stage / name, data)

    commit(folder, build, what=what)


def write_new(path: Path, data: bytes) -> None:
    """Write ``data`` as a new file at ``path`` in a stage (replacing a link, never through it)."""
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    with open(path, "xb") as fh:
        fh.write(data)


@contextlib.contextmanager
def work_dir(folder: Path) -> Iterator[Path]:
    """A private folder beside ``folder`` for files made before they are committed (outside the
    model folder, which a commit swaps); removed afterwards, or swept once its process is gone."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix=f".{folder.name}{WORK}{os.getpid()}-", dir=folder.parent))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def is_leftover(name: str) -> bool:
    """A name this module makes beside model folders (hidden: never a model)."""
    return name.startswith(".") and any(tag in name for tag in (LOCK, STAGE, OLD, WORK))


def _recover(folder: Path) -> None:
    """Under the lock: undo what a killed commit left beside ``folder``."""
    atomic.sweep_dead(folder.parent)  # temporary files of killed writers of shared files
    prefix = f".{folder.name}"
    for path in folder.parent.glob(f"{prefix}.*"):
        rest = path.name[len(prefix) :]
        if rest.startswith(OLD) and not folder.exists():
            os.rename(path, folder)  # killed between the two renames of the fallback swap
        elif rest.startswith((STAGE, OLD)):
            shutil.rmtree(path, ignore_errors=True)
        elif rest.startswith(WORK) and not atomic.process_alive(rest[len(WORK) :].split("-", 1)[0]):
            shutil.rmtree(path, ignore_errors=True)


def _link_tree(source: Path, target: Path) -> None:
    """``target`` (an empty folder) gets hard links to ``source``'s files, links kept as links."""
    os.chmod(target, source.stat().st_mode & 0o7777)
    for entry in os.scandir(source):
        dest = target / entry.name
        if entry.is_symlink():
            os.symlink(os.readlink(entry.path), dest)
        elif entry.is_dir():
            dest.mkdir()
            _link_tree(Path(entry.path), dest)
        else:
            try:
                os.link(entry.path, dest, follow_symlinks=False)
            except OSError as exc:  # a filesystem without hard links: copy instead
                if exc.errno not in (errno.EPERM, errno.EXDEV, errno.ENOTSUP, errno.EMLINK):
                    raise
                shutil.copy2(entry.path, dest)


def _swap(stage: Path, folder: Path) -> None:
    if not folder.exists():
        os.rename(stage, folder)
        return
    if _exchange(stage, folder):
        return
    aside = Path(tempfile.mktemp(prefix=f".{folder.name}{OLD}", dir=folder.parent))
    os.rename(folder, aside)
    os.rename(stage, folder)
    os.rename(aside, stage)  # so the caller removes the old state under the stage's name


def _exchange(a: Path, b: Path) -> bool:
    """Swap two folders atomically (Linux ``renameat2``); False where that is not available."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    renameat2.argtypes = [
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_uint,
    ]
    at_fdcwd = -100
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EXDEV):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
