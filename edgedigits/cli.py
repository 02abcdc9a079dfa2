"""The ``edgedigits`` command: parse flags, call the library, map user errors to exit code 1.

Nothing here does real work; every subcommand is one call into the typed library API, so anything
the CLI does, Python can do. Heavy modules are imported inside the handlers so ``--help`` is instant.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Sequence

from edgedigits import __version__
from edgedigits.errors import EdgeDigitsError

EPILOG_DATA = ("--data: omit for the embedded MNIST; or a folder of IDX files, a Keras-style "
               ".npz, or 'keras' / 'keras:fashion_mnist' to download (needs a network)")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def _add_data_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", metavar="PATH", default=None,
                        help="data source (default: the embedded MNIST; see below)")


def cmd_zoo(args: argparse.Namespace) -> int:
    from edgedigits.zoo import describe_models, list_models

    if args.names:
        print("\n".join(list_models()))
        return 0
    rows = describe_models()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    header = ("name", "source", "params", "architecture", "recipe")
    table = [header] + [(r["name"], r["source"], f"{r['params']:,}", r["architecture"],
                         r["recipe"]) for r in rows]
    if args.markdown:
        print("| " + " | ".join(header) + " |")
        print("|---|---|---:|---|---|")
        for row in table[1:]:
            print("| " + " | ".join(row) + " |")
        return 0
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for k, row in enumerate(table):
        print("  ".join(cell.rjust(w) if i == 2 else cell.ljust(w)
                        for i, (cell, w) in enumerate(zip(row, widths))).rstrip())
        if k == 0:
            print("  ".join("-" * w for w in widths))
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from edgedigits.training import train

    results = train(args.names, all_models=args.all, data=args.data, out=args.out,
                    epochs=args.epochs, limit=args.limit, seed=args.seed)
    print(f"trained {len(results)} model(s) into {args.out}:")
    for r in results:
        print(f"  {r.model:28s} test accuracy {r.test_accuracy:6.2f}%  ({r.train_seconds:.1f}s)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="edgedigits",
        description="Train a zoo of MNIST digit models, export them for the edge, benchmark them.")
    parser.add_argument("--version", action="version", version=f"edgedigits {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    zoo = sub.add_parser("zoo", help="list the model zoo with provenance and parameter counts",
                         description="List every zoo model: name, seed project, parameter "
                                     "count, architecture and training recipe.")
    fmt = zoo.add_mutually_exclusive_group()
    fmt.add_argument("--names", action="store_true", help="names only, one per line (fast)")
    fmt.add_argument("--json", action="store_true", help="full records as JSON")
    fmt.add_argument("--markdown", action="store_true", help="a Markdown table")
    zoo.set_defaults(func=cmd_zoo)

    train = sub.add_parser("train", help="train zoo models with their seed's recipe",
                           description="Train zoo models with each seed project's recipe and "
                                       "save the model, history, metrics and plots under "
                                       "--out/<model>/.",
                           epilog=EPILOG_DATA)
    train.add_argument("names", nargs="*", metavar="NAME", help="zoo model names (see 'zoo')")
    train.add_argument("--all", action="store_true", help="train every zoo model")
    train.add_argument("--epochs", type=_positive_int, help="override the recipe's epoch count")
    train.add_argument("--limit", type=_positive_int, metavar="N",
                       help="train on the first N training images only")
    train.add_argument("--seed", type=int, default=0, help="random seed (default 0); the same "
                                                           "seed gives the same weights")
    _add_data_flag(train)
    train.add_argument("--out", default="exports", metavar="DIR",
                       help="output folder (default: exports/)")
    train.set_defaults(func=cmd_train)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except EdgeDigitsError as exc:
        print(f"edgedigits {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"edgedigits {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
