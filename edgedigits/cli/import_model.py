"""``edgedigits import``: bring in a user's .keras/.h5 file, read as data."""

from __future__ import annotations

import argparse
from typing import Any

from edgedigits.cli._args import (
    EPILOG_DATA,
    _add_data_flag,
    _command,
)


def cmd_import(args: argparse.Namespace) -> int:
    from edgedigits.model_import import import_model

    record = import_model(
        args.file, name=args.name, out=args.out, data=args.data, preprocessing=args.preprocessing
    )
    print(
        f"{record.name}: ready; 'edgedigits export {record.name} --out {args.out} "
        "--format all --quant all' exports it"
    )
    return 0


def add_parser(sub: Any) -> None:
    imp = _command(
        sub,
        cmd_import,
        "import",
        help="bring in your own .keras/.h5 digit classifier (Keras 3 or Keras 2)",
        description="Read a model file a notebook saved (Keras 3 or tf_keras; .keras or .h5) as "
        "data: its architecture through an allowlist of built-in layers (nothing "
        "in the file is imported or run), its weights checked against it. The "
        "model is rebuilt in tf_keras, its input scaling inferred on the test set, "
        "and proven equivalent to the file in the Keras that wrote it (in a "
        "subprocess). It lands in --out/NAME/ like a trained zoo model, and every "
        "command then takes NAME.",
        epilog=EPILOG_DATA,
    )
    imp.add_argument("file", metavar="FILE", help="the .keras or .h5 file model.save() wrote")
    imp.add_argument(
        "--name", default=None, help="the model's name under --out (default: from the file name)"
    )
    imp.add_argument(
        "--out", default="exports", metavar="DIR", help="output folder (default: exports/)"
    )
    imp.add_argument(
        "--preprocessing",
        default=None,
        metavar="NAME",
        help="the input scaling the model was trained with: unit (x/255), raw "
        "(0-255), mnist-normalized ((x/255-0.1307)/0.3081); default: "
        "inferred, the one that scores best on the test set",
    )
    _add_data_flag(imp)
