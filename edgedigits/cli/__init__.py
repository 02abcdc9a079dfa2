"""The ``edgedigits`` command: parse flags, call the library, map user errors to exit code 1.

Nothing here does real work; every subcommand is one call into the typed library API, so anything
the CLI does, Python can do. Heavy modules are imported inside the handlers so ``--help`` is
instant.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from edgedigits import __version__
from edgedigits.cli import (
    bench,
    ci,
    classify,
    doctor,
    export,
    import_model,
    pipeline,
    train,
    verify,
    zoo,
)
from edgedigits.cli._args import _Parser, apply_project_config
from edgedigits.errors import EdgeDigitsError, is_disk_full

COMMANDS = (
    zoo,
    train,
    import_model,
    export,
    bench,
    pipeline,
    doctor,
    verify,
    classify,
    ci,
)  # --help order


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="edgedigits",
        description="Train a zoo of MNIST digit models, export them for the edge, benchmark them.",
    )
    parser.add_argument("--version", action="version", version=f"edgedigits {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        apply_project_config(args)
        return args.func(args)
    except EdgeDigitsError as exc:
        print(f"edgedigits {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        if not is_disk_full(exc):
            raise
        # Every write is to a temporary name renamed into place, and a model folder changes
        # only by a whole commit, so a write that failed replaced nothing.
        where = exc.filename or getattr(args, "out", None) or "."
        print(
            f"edgedigits {args.command}: error: {where}: no space left on the device; the "
            "files written before were kept and nothing was replaced",
            file=sys.stderr,
        )
        return 1
    except KeyboardInterrupt:
        print(f"edgedigits {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
