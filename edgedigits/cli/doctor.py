"""``edgedigits doctor``: which layer a quantized artifact loses accuracy in, and why."""

from __future__ import annotations

import argparse
from typing import Any

from edgedigits.cli._args import (
    EPILOG_DATA,
    CommaList,
    Once,
    _add_data_flag,
    _command,
    _positive_int,
)


def cmd_doctor(args: argparse.Namespace) -> int:
    from edgedigits.doctor import diagnose
    from edgedigits.outputs import writable_file

    for flag in ("json", "markdown", "plot"):
        if getattr(args, flag):
            writable_file(getattr(args, flag), f"--{flag}")
    if args.name and not args.name.startswith("-"):
        from edgedigits.model_import import import_files  # a .keras/.h5: import it first

        args.name = import_files([args.name], out=args.out, data=args.data)[0]
    if args.lint:
        return _lint(args)
    report = diagnose(
        args.name,
        recipe=args.quant or "int8",
        formats=args.format,
        out=args.out,
        data=args.data,
        images=args.images,
    )
    print(report.terminal())
    if args.json:
        from edgedigits import atomic

        atomic.write_json(args.json, report.to_json())
    if args.markdown:
        from edgedigits import atomic

        atomic.write_text(args.markdown, report.to_markdown())
    if args.plot:
        report.plot(args.plot)
        print(f"plot: {args.plot}")
    return 0


def _lint(args: argparse.Namespace) -> int:
    from edgedigits.contract.recipes import parse_formats, parse_recipes
    from edgedigits.doctor import lint

    recipes = (
        None
        if args.quant in (None, "all")
        else [r.value for r in parse_recipes(args.quant, parse_formats("all"))]
    )
    findings = lint(args.name, recipes=recipes, out=args.out)
    for finding in findings:
        print(finding.line())
    errors = sum(f.severity == "error" for f in findings)
    print(f"lint: {args.name}: {errors} error(s), {len(findings) - errors} warning(s)")
    if args.json:
        from edgedigits import atomic

        atomic.write_json(
            args.json,
            {
                "schema": "edgedigits.lint/1",
                "model": args.name,
                "findings": [f.to_json() for f in findings],
            },
        )
    return 0


def add_parser(sub: Any) -> None:
    doctor = _command(
        sub,
        cmd_doctor,
        "doctor",
        help="which layer breaks a quantized artifact, in each format, and why",
        description="Compare every layer's output in the exported artifacts (TFLite and ONNX) "
        "with the trained Keras model on test images, one image per call, and rank "
        "the layers by the quantization noise they add, with the reason read off "
        "the numbers (clipped range, outliers, unfolded BatchNormalization).",
        epilog=EPILOG_DATA,
    )
    doctor.add_argument(
        "name",
        metavar="NAME",
        help="a zoo or imported model exported under --out, or a .keras/.h5 file to import",
    )
    doctor.add_argument(
        "--lint",
        action="store_true",
        help="only list the known pitfalls of the model for each recipe (no "
        "conversion, no artifacts needed; --quant all for every recipe)",
    )
    doctor.add_argument(
        "--quant",
        action=Once,
        default=None,
        metavar="RECIPE",
        help="post-training recipe to diagnose: float32, float16, dynamic, "
        "int8, int16x8, int8-fixed, int8-mixed (default int8; with --lint, "
        "default all)",
    )
    doctor.add_argument(
        "--format",
        action=CommaList,
        default=None,
        metavar="FMT[,FMT]",
        help="formats to diagnose (default: each of tflite and onnx exported "
        "for the recipe, side by side)",
    )
    doctor.add_argument(
        "--images",
        type=_positive_int,
        default=300,
        metavar="N",
        help="test images compared (default 300)",
    )
    doctor.add_argument(
        "--out",
        default="exports",
        metavar="DIR",
        help="folder of trained and exported models (default exports/)",
    )
    _add_data_flag(doctor)
    doctor.add_argument("--json", metavar="PATH", help="write the per-layer report as JSON")
    doctor.add_argument("--markdown", metavar="PATH", help="write the report as Markdown")
    doctor.add_argument("--plot", metavar="PATH", help="write the error-by-layer plot (PNG)")
