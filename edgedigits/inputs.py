"""Files the toolkit is handed, opened so that reading them is bounded.

A named pipe where a file is expected blocks ``open()`` until a writer comes (forever), a device
never ends, and a header can claim any size. So every file a user names, or that a folder holds,
is opened here: without blocking, refused unless it is a regular file, and refused when its size
on disk is over the caller's stated limit, before a byte is read. What the file's contents claim
(an IDX header's dimensions, a ``.npy`` header's shape, a zip member's size) is checked by the
readers against this real size and the same limit before anything is allocated or inflated.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO


@contextlib.contextmanager
def open_regular(
    path: str | Path, fail: Callable[[str], Exception], max_bytes: int
) -> Iterator[tuple[BinaryIO, int]]:
    """``(binary file, size)`` for the regular file at ``path``; ``fail(reason)`` makes the
    error for each refusal. A missing file raises FileNotFoundError (the caller's case)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise fail(f"cannot be read ({exc.strerror})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise fail("not a regular file (a pipe, device or folder)")
        if info.st_size > max_bytes:
            raise fail(f"{info.st_size:,} bytes, over the {max_bytes:,}-byte limit")
        handle = os.fdopen(fd, "rb", closefd=True)
    except BaseException:
        os.close(fd)
        raise
    with handle:
        yield handle, info.st_size
