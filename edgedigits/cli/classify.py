"""``edgedigits classify``: any exported file, run on pictures (PNG, JPEG, ...)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from edgedigits.cli._args import _command


def cmd_classify(args: argparse.Namespace) -> int:
    from edgedigits.classify import check_artifact, classify, default_artifact
    from edgedigits.outputs import writable_file

    artifact = check_artifact(args.artifact or default_artifact(args.out))
    if args.json:
        writable_file(args.json, "--json")
    report = classify(args.pictures, artifact, save_inputs=args.save_input)
    if args.json:
        from edgedigits import atomic

        atomic.write_json(args.json, report.to_json())
    print(f"{report.artifact} in {report.runtime}, pictures prepared by {report.contract}:")
    for result in report.results:
        print(result.line())
        if result.saved_input:
            print(f"  the model saw: {result.saved_input}")
    sys.stdout.flush()
    return 0


def add_parser(sub: Any) -> None:
    parser = _command(
        sub,
        cmd_classify,
        "classify",
        help="run an exported file on pictures: the digit and the scores",
        description="Each picture (PNG, JPEG, GIF, BMP or WebP; a canvas, a photo, a scan; "
        "either polarity) goes through the preprocessing contract to the 28x28 image the "
        "model sees, is scaled as the file's manifest says, and runs in the runtime an app "
        "loads the file in (LiteRT for .tflite, ONNX Runtime for .onnx and .ort). Prints "
        "the digit and the top scores per picture.",
    )
    parser.add_argument("pictures", nargs="+", metavar="PICTURE", help="picture files")
    parser.add_argument(
        "--artifact",
        metavar="FILE",
        default=None,
        help="an exported .tflite, .onnx or .ort file with its manifest.json beside it "
        "(default: the first default model's float32 .tflite under --out)",
    )
    parser.add_argument(
        "--out", default="exports", metavar="DIR", help="export folder (default exports/)"
    )
    parser.add_argument(
        "--save-input",
        metavar="DIR",
        default=None,
        help="write the 28x28 image each picture became, as <picture>.28x28.png",
    )
    parser.add_argument("--json", metavar="FILE", default=None, help="write the results as JSON")
