"""Microcontroller budgets: the most flash and tensor arena a firmware can give one model.

Both figures are measured, never estimated: *flash* is the model data a firmware keeps in flash
(the ``.tflite`` bytes a C array holds) and *arena* what TensorFlow Lite Micro's recording
allocator reports the model took (see ``runtimes/tflm.py``). ``bench`` holds rows of runtimes that
measure them (``tflm``) against a budget, ``export`` holds C arrays; both use this one check so a
budget means the same bytes in either place.
"""

from __future__ import annotations

from dataclasses import dataclass

from edgedigits.errors import EdgeDigitsError, UsageError

ARENA_FLAG = "--max-arena-bytes"
FLASH_FLAG = "--max-flash-bytes"


class OverBudget(EdgeDigitsError):
    """A correct artifact that does not fit the budget given."""


@dataclass(frozen=True)
class MCUBudget:
    max_arena_bytes: int | None = None
    max_flash_bytes: int | None = None

    def __bool__(self) -> bool:
        return self.max_arena_bytes is not None or self.max_flash_bytes is not None

    def validate(self) -> None:
        for flag, value in ((ARENA_FLAG, self.max_arena_bytes), (FLASH_FLAG, self.max_flash_bytes)):
            if value is not None and (
                not isinstance(value, int) or isinstance(value, bool) or value < 1
            ):
                raise UsageError(f"{flag} {value}: must be a whole number of bytes, at least 1")

    def flags(self) -> str:
        """The flags given, for messages: ``--max-arena-bytes 8,192``."""
        return ", ".join(
            f"{flag} {value:,}"
            for flag, value in (
                (ARENA_FLAG, self.max_arena_bytes),
                (FLASH_FLAG, self.max_flash_bytes),
            )
            if value is not None
        )

    def failures(self, arena_bytes: int | None, flash_bytes: int | None) -> list[str]:
        """One line per figure over its budget (``arena 9,184 bytes > --max-arena-bytes 9,000``);
        a figure that was not measured is not judged."""
        out = []
        for what, value, limit, flag in (
            ("arena", arena_bytes, self.max_arena_bytes, ARENA_FLAG),
            ("flash", flash_bytes, self.max_flash_bytes, FLASH_FLAG),
        ):
            if value is not None and limit is not None and value > limit:
                out.append(f"{what} {value:,} bytes > {flag} {limit:,}")
        return out
