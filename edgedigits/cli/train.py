"""``edgedigits train``: train zoo models with their seed's recipe."""

from __future__ import annotations

import argparse
from typing import Any

from edgedigits.cli._args import (
    EPILOG_DATA,
    _add_model_selection,
    _command,
    _positive_int,
    _seed,
)


def cmd_train(args: argparse.Namespace) -> int:
    from edgedigits.training import train

    results = train(
        args.names,
        all_models=args.all,
        data=args.data,
        out=args.out,
        epochs=args.epochs,
        limit=args.limit,
        seed=args.seed,
    )
    print(f"trained {len(results)} model(s) into {args.out}:")
    for r in results:
        print(f"  {r.model:28s} test accuracy {r.test_accuracy:6.2f}%  ({r.train_seconds:.1f}s)")
    return 0


def add_parser(sub: Any) -> None:
    train = _command(
        sub,
        cmd_train,
        "train",
        help="train zoo models with their seed's recipe",
        description="Train zoo models with each seed project's recipe and save the "
        "model, history, metrics and plots under --out/<model>/.",
        epilog=EPILOG_DATA,
    )
    _add_model_selection(
        train,
        names="zoo model names (see 'zoo')",
        all_models="train every zoo model",
        out="output folder (default: exports/)",
    )
    train.add_argument("--epochs", type=_positive_int, help="override the recipe's epoch count")
    train.add_argument(
        "--limit", type=_positive_int, metavar="N", help="train on the first N training images only"
    )
    train.add_argument(
        "--seed",
        type=_seed,
        default=0,
        help="random seed (default 0); the same seed gives the same weights",
    )
