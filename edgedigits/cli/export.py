"""``edgedigits export``: artifacts for the edge, verified, with manifests."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from edgedigits.cli._args import (
    EPILOG_DATA,
    CommaList,
    _add_budget_flags,
    _add_model_selection,
    _command,
    _int_at_least,
    _number_in,
    _positive_int,
    _seed,
    cli_command,
)


def cmd_export(args: argparse.Namespace) -> int:
    from edgedigits.export import ExportOptions, FinetuneOptions, export
    from edgedigits.mcu_budget import MCUBudget

    options = ExportOptions(
        formats=args.format,
        recipes=args.quant,
        targets=args.target or (),
        io=args.io,
        batch=args.batch,
        calibration_samples=args.calibration_samples,
        opset=args.opset,
        verify_samples=args.verify_samples,
        seed=args.seed,
        finetune=FinetuneOptions(
            epochs=args.finetune_epochs,
            samples=args.finetune_samples,
            sparsity=args.sparsity,
            clusters=args.clusters,
            seed=args.seed,
        ),
        auto_fix=args.auto_fix,
        keep_float=[args.keep_float] if args.keep_float else [],
        budget=MCUBudget(args.max_arena_bytes, args.max_flash_bytes),
        ort_style=args.ort_style,
        onnx_batch=args.onnx_batch,
        train_missing=args.train,
        jobs=args.jobs,
    )
    report = export(
        args.names,
        all_models=args.all,
        out=args.out,
        data=args.data,
        options=options,
        command=cli_command(),
    )
    print(report.to_markdown(), end="")
    ok = sum(r.ok for r in report.records)
    print(f"{ok} artifact(s) written under {args.out}/<model>/ with manifest.json and golden.json")
    for r in report.failed:
        print(f"edgedigits export: failed: {r.file}: {r.reason}", file=sys.stderr)
    for r in report.parity_failures:
        fixed = report.repaired_by(r)
        repaired = (
            f"; repaired by --auto-fix: {fixed.file} agreement "
            f"{100 * fixed.parity['agreement']:.2f}%"
            if fixed
            else ""
        )
        print(
            f"edgedigits export: parity outside tolerance: {r.file}: "
            f"{'; '.join(r.parity['failures'])}{repaired}",
            file=sys.stderr,
        )
    return 0 if report.all_good else 1


def add_parser(sub: Any) -> None:
    from edgedigits.contract.recipes import FORMAT_RECIPES  # light: enums only

    recipes_help = "; ".join(
        f"{fmt.value}: {', '.join(r.value for r in recs)}" for fmt, recs in FORMAT_RECIPES.items()
    )
    export = _command(
        sub,
        cmd_export,
        "export",
        help="export trained models to TFLite, ONNX and C, verified, with manifests",
        description="Export trained zoo models for the edge. Each artifact is run in its runtime "
        "and compared with its Keras model; manifest.json and golden.json are "
        "written beside the artifacts in --out/<model>/.",
        epilog=f"Recipes per format: {recipes_help}. {EPILOG_DATA}",
    )
    _add_model_selection(
        export,
        names="zoo or imported model names, or .keras/.h5 files to import "
        "(default: "
        "every model trained or imported under --out; none there: the "
        "default models, from their shipped weights)",
        all_models="export every zoo model",
        out="folder with the trained models; artifacts land beside them (default: exports/)",
    )
    export.add_argument(
        "--target",
        action=CommaList,
        default=None,
        metavar="TARGET[,TARGET]",
        help="web, mobile, mcu, server, or all: the formats, recipes and tensor "
        "conventions the app runtimes of each accept (web: .tflite for "
        "LiteRT.js with batch 1 and float32 I/O, .onnx for ONNX Runtime "
        "Web; mobile: .tflite and .ort; mcu: int8 C arrays; server: .onnx "
        "with a dynamic batch); --format and --quant then filter them",
    )
    export.add_argument(
        "--format",
        action=CommaList,
        default=None,
        metavar="FMT[,FMT]",
        help="tflite, onnx, ort, c, or all (default: tflite, or the targets')",
    )
    export.add_argument(
        "--quant",
        action=CommaList,
        default=None,
        metavar="RECIPE[,RECIPE]",
        help="recipes, comma-separated, or all (default: float32, or the targets')",
    )
    export.add_argument(
        "--io",
        choices=("int8", "uint8", "float32"),
        default=None,
        help="input/output type of full-integer TFLite files and C arrays (int8, "
        "qat, int8-fixed, int8-mixed): default int8, or the target's "
        "(float32 for web and mobile)",
    )
    export.add_argument(
        "--batch",
        default=None,
        metavar="N|dynamic",
        help="batch dimension of .tflite files: a number, or dynamic (default 1;"
        " LiteRT.js and TFLM take no dynamic batch)",
    )
    export.add_argument(
        "--train",
        action="store_true",
        help="train models that have no trained .keras yet (default: start "
        "them from the weights that ship with edgedigits)",
    )
    export.add_argument(
        "--calibration-samples",
        type=_positive_int,
        default=500,
        metavar="N",
        help="training images for int8 calibration (default 500)",
    )
    export.add_argument("--opset", type=int, default=17, help="ONNX opset, 13-18 (default 17)")
    export.add_argument(
        "--finetune-epochs",
        type=_positive_int,
        default=1,
        metavar="N",
        help="fine-tuning epochs for qat, pruned, clustered (default 1)",
    )
    export.add_argument(
        "--finetune-samples",
        type=_positive_int,
        default=None,
        metavar="N",
        help="training images for fine-tuning (default: all)",
    )
    export.add_argument(
        "--sparsity",
        type=_number_in(0.0, 1.0),
        default=0.5,
        help="pruning target sparsity, 0-1 (default 0.5)",
    )
    export.add_argument(
        "--clusters",
        type=_int_at_least(2),
        default=16,
        help="weight clusters per kernel for 'clustered' (default 16)",
    )
    export.add_argument(
        "--verify-samples",
        type=_positive_int,
        default=1000,
        metavar="N",
        help="test images each artifact is checked on (default 1000)",
    )
    export.add_argument(
        "--keep-float",
        metavar="LAYER[,LAYER]",
        default=None,
        help="Keras layers that int8-mixed leaves in float (see 'edgedigits "
        "doctor' for which ones cost int8 the most)",
    )
    export.add_argument(
        "--auto-fix",
        action="store_true",
        help="when an int8 file fails parity, also export a repaired one: "
        "int8-fixed (BatchNormalization after an activation folded forward, "
        "exact in float) when the lint finds that pitfall, else int8-mixed "
        "with the layer the doctor ranks worst kept in float",
    )
    _add_budget_flags(export, "C arrays", "needs --format c")
    export.add_argument(
        "--onnx-batch",
        type=int,
        choices=(1,),
        default=None,
        metavar="1",
        help="ONNX and ORT files with a fixed batch of 1 (NNAPI and CoreML take "
        "no node with a dynamic shape); default: a dynamic batch",
    )
    export.add_argument(
        "--ort-style",
        choices=("fixed", "runtime"),
        default="fixed",
        help="ONNX Runtime Mobile optimization style for --format ort: fixed "
        "(optimized for the CPU provider before saving; default) or runtime "
        "(optimizations replayed at load, for NNAPI/CoreML)",
    )
    export.add_argument(
        "--jobs",
        type=_positive_int,
        default=None,
        metavar="N",
        help="models exported at once, each in its own process (default: one "
        "per CPU "
        "core when several models are fine-tuned, else 1)",
    )
    export.add_argument(
        "--seed",
        type=_seed,
        default=0,
        help="seed for calibration sampling and fine-tuning (default 0)",
    )
