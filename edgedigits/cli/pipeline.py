"""``edgedigits pipeline``: export then bench, the whole flow."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from edgedigits.cli._args import (
    EPILOG_DATA,
    CommaList,
    _add_bench_flags,
    _add_model_selection,
    _command,
    _positive_int,
    cli_command,
)
from edgedigits.cli._bench_run import bench_options, check_outputs, run_gate


def cmd_pipeline(args: argparse.Namespace) -> int:
    from edgedigits.benchmark import report as reports
    from edgedigits.pipeline import pipeline

    baselines = check_outputs(args)
    from edgedigits.export import ExportOptions

    result = pipeline(
        args.names,
        all_models=args.all,
        out=args.out,
        data=args.data,
        epochs=args.epochs,
        export_options=ExportOptions(
            formats=args.format, recipes=args.quant, targets=args.target, jobs=args.jobs
        ),
        bench_options=bench_options(args),
        report_dir=args.report_dir,
        command=cli_command(),
        train_missing=args.train,
    )
    print(reports.terminal_summary(result.document))
    for path in result.files:
        print(f"report: {path}")
    exported = result.exported
    failed = exported.failed + result.benched.failed
    for row in exported.failed:
        print(f"edgedigits pipeline: export failed: {row.file}: {row.reason}", file=sys.stderr)
    # A file that missed its export-time parity is one 'verify' refuses: the pipeline says so
    # too, rather than leave it to the next command (bench judges only against the trained model).
    unrepaired = [r for r in exported.parity_failures if not exported.repaired_by(r)]
    for row in unrepaired:
        print(
            f"edgedigits pipeline: parity outside tolerance at export: {row.file}: "
            f"{'; '.join(row.parity.get('failures') or [])}",
            file=sys.stderr,
        )
    failed = failed + unrepaired
    code = run_gate(args, result.document, baselines)
    return 1 if (failed and not code) else code


def add_parser(sub: Any) -> None:
    pipe = _command(
        sub,
        cmd_pipeline,
        "pipeline",
        help="export and bench (training only with --train): the whole flow",
        description="Start every model not trained under --out from the weights that ship with "
        "edgedigits (or train it: --train), export it, bench everything, and write "
        "the report to --report-dir. Without names, a small default subset; --all "
        "for the whole zoo.",
        epilog=EPILOG_DATA,
    )
    _add_model_selection(
        pipe,
        names="zoo or imported model names, or .keras/.h5 files",
        all_models="the whole zoo",
        out="default exports/",
    )
    pipe.add_argument(
        "--target",
        action=CommaList,
        default="all",
        metavar="TARGET[,TARGET]",
        help="web, mobile, mcu, server, or all (default all: every format and "
        "recipe an app runtime takes, as 'export --target' picks them)",
    )
    pipe.add_argument("--format", action=CommaList, default=None, help="only these export formats")
    pipe.add_argument("--quant", action=CommaList, default=None, help="only these export recipes")
    pipe.add_argument(
        "--train",
        action="store_true",
        help="train models not trained under --out with their recipes, instead "
        "of starting from the weights that ship with edgedigits",
    )
    pipe.add_argument(
        "--epochs", type=_positive_int, help="override training epochs (implies --train)"
    )
    pipe.add_argument(
        "--jobs",
        type=_positive_int,
        default=None,
        metavar="N",
        help="models exported at once, each in its own process (default: one per CPU "
        "core when several models are fine-tuned, else 1)",
    )
    pipe.add_argument(
        "--report-dir",
        metavar="DIR",
        default=None,
        help="where the report goes (default <out>/report)",
    )
    _add_bench_flags(pipe)
