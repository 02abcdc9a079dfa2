"""``edgedigits bench``: parity and latency of every artifact, reports and the CI gate."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from edgedigits.cli._args import (
    EPILOG_DATA,
    _add_bench_flags,
    _add_model_selection,
    _command,
)
from edgedigits.cli._bench_run import bench_options, check_outputs, run_gate


def cmd_bench(args: argparse.Namespace) -> int:
    from edgedigits.benchmark import bench
    from edgedigits.benchmark import report as reports

    baselines = check_outputs(args)
    if args.baseline and not args.check:
        print("note: --baseline without --check only validates the baseline file")
    result = bench(
        args.targets,
        all_models=args.all,
        out=args.out,
        data=args.data,
        options=bench_options(args),
    )
    doc = reports.to_document(result)
    if args.json:
        from edgedigits import atomic

        atomic.write_json(args.json, doc)
    text = reports.write_markdown(doc, args.markdown)
    if not args.markdown:
        print(text)
    if args.plots:
        for path in reports.write_plots(doc, f"{args.plots}/bench"):
            print(f"plot: {path}")
    for row in result.failed:
        print(
            f"edgedigits bench: failed: {row.artifact} on {row.runtime}: {row.reason}",
            file=sys.stderr,
        )
    for row in result.over_budget:
        if row.batch == 1:
            print(
                f"edgedigits bench: over budget: {row.artifact} on {row.runtime}: "
                f"{'; '.join(row.budget_failures)}",
                file=sys.stderr,
            )
    code = run_gate(args, doc, baselines)
    return 1 if ((result.failed or result.over_budget) and not code) else code


def add_parser(sub: Any) -> None:
    bench = _command(
        sub,
        cmd_bench,
        "bench",
        help="accuracy parity and latency of every artifact in every runtime",
        description="Bench the artifacts 'export' wrote (by model name) or the files named: "
        "accuracy parity with the Keras model on the test set and latency at batch 1 "
        "and --batch, in every runtime that can run them.",
        epilog=EPILOG_DATA,
    )
    _add_model_selection(
        bench,
        dest="targets",
        metavar="NAME|ARTIFACT",
        names="zoo or imported model names, .tflite/.onnx/.ort files, or a "
        ".keras/.h5 file to import",
        all_models="every trained zoo model",
        out="folder the models were trained and exported into (default exports/)",
    )
    bench.add_argument("--json", metavar="PATH", help="write the JSON report (edgedigits.bench/2)")
    bench.add_argument("--markdown", metavar="PATH", help="write the Markdown report")
    bench.add_argument(
        "--plots", metavar="DIR", help="write Pareto plots and pictures of disagreeing images here"
    )
    _add_bench_flags(bench)
