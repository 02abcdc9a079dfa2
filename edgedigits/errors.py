"""User-facing errors.

Anything a user can cause (a bad flag, a missing or corrupt file, an unknown model name) raises an
``EdgeDigitsError`` whose message is one line naming the file or flag and what is wrong. The CLI
prints that line and exits 1 with no traceback; every other exception is a bug and keeps its
traceback.
"""

from __future__ import annotations

import errno


class EdgeDigitsError(Exception):
    """A user error: one clear line, no traceback."""


class DataError(EdgeDigitsError):
    """A data file or source is missing, unreadable or malformed."""


class UnknownNameError(EdgeDigitsError):
    """A name (model, format, recipe, runtime) is not one we know; the message lists valid ones."""


class UsageError(EdgeDigitsError):
    """A flag or argument has a value we cannot use."""


class ModelFileError(EdgeDigitsError):
    """A trained model file is missing, corrupt, or not what it claims to be."""


class DiskFullError(EdgeDigitsError):
    """The disk (or quota) filled while writing; the message names the folder and says what was
    kept, which the writer knows (a folder commit changes nothing unless it completes)."""


DISK_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)


def is_disk_full(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in DISK_FULL_ERRNOS


def first_line(exc: BaseException, limit: int = 300) -> str:
    """The first line of an exception's message, for a one-line failure reason in a report."""
    lines = str(exc).strip().splitlines()
    return lines[0][:limit] if lines else type(exc).__name__
