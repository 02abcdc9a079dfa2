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


def _bench_options(args: argparse.Namespace):
    from pathlib import Path

    from edgedigits.benchmark import BenchOptions, TimingOptions, load_tolerances
    from edgedigits.runtimes import parse_runtimes

    tolerances = load_tolerances(
        args.tolerances,
        {"min_agreement": args.min_agreement, "max_accuracy_drop": args.max_accuracy_drop},
    )
    batches = (1,) if args.batch == 1 else (1, args.batch)
    return BenchOptions(
        runtimes=tuple(parse_runtimes(args.runtimes)),
        threads=args.threads,
        batch_sizes=batches,
        xnnpack=not args.no_xnnpack,
        timing=TimingOptions(
            warmup=args.warmup,
            rounds=args.rounds,
            min_runs=args.min_runs,
            min_seconds=args.min_seconds,
        ),
        test_limit=args.test_limit,
        tolerances=tolerances,
        plots_dir=Path(args.plots) if getattr(args, "plots", None) else None,
        profile=args.profile,
        max_arena_bytes=args.max_arena_bytes,
        max_flash_bytes=args.max_flash_bytes,
    )


def _check_outputs(args: argparse.Namespace) -> list[tuple[str, dict]]:
    """Before any work: every output path on the command line is writable, and every baseline
    is a valid bench report. Returns the baselines as (path, document) pairs."""
    from edgedigits.outputs import writable_dir, writable_file

    for flag in ("json", "markdown", "gate_markdown"):
        value = getattr(args, flag, None)
        if value:
            writable_file(value, "--" + flag.replace("_", "-"))
    for flag in ("plots", "report_dir"):
        value = getattr(args, flag, None)
        if value:
            writable_dir(value, f"--{flag.replace('_', '-')} {value}")
    if not args.baseline:
        return []
    from edgedigits.benchmark import gate

    return [(path, gate.load_baseline(path)) for path in args.baseline]


def _retimer(args: argparse.Namespace, doc: dict):
    """The gate's re-timing: bench the named models' artifacts from ``doc`` again, with the same
    options, less what re-timing does not need (plots, profiles, ungated reference runtimes)."""
    import dataclasses

    from edgedigits.benchmark import bench
    from edgedigits.benchmark import report as reports
    from edgedigits.runtimes import REFERENCE_RUNTIMES

    options = _bench_options(args)
    runtimes = tuple(
        r for r in options.runtimes if args.gate_references or r not in REFERENCE_RUNTIMES
    )
    options = dataclasses.replace(
        options, runtimes=runtimes or options.runtimes, plots_dir=None, profile=False
    )

    def retime(models: list[str]) -> dict:
        files = list(dict.fromkeys(r["artifact"] for r in doc["results"] if r["model"] in models))
        return reports.to_document(bench(files, out=args.out, data=args.data, options=options))

    return retime


def _gate(args: argparse.Namespace, doc: dict, baselines: list[tuple[str, dict]]) -> int:
    """Apply --baseline/--check to a bench document; print the verdict; return the exit code."""
    from edgedigits.benchmark import gate

    if not args.check:
        return 0
    chosen = gate.select_baseline(doc, baselines)
    baseline = None if chosen is None else chosen[1]
    if len(baselines) > 1:
        print(
            f"gate: baseline: {chosen[0]} (of {len(baselines)}, chosen by this run's CPU: "
            f"{doc['machine'].get('cpu_id') or doc['machine']['cpu']})"
        )
    from edgedigits.benchmark.retiming import check_and_retime

    result = check_and_retime(
        doc,
        baseline,
        _retimer(args, doc),
        args.max_slowdown,
        args.gate_references,
        retries=args.gate_retries,
        pause_s=gate.RETRY_PAUSE_S,
    )
    if args.gate_markdown:
        from edgedigits import atomic

        atomic.write_text(args.gate_markdown, result.to_markdown())
    for note in result.notes:
        print(f"gate: note: {note}")
    if result.comparisons:
        print(
            f"gate: largest growth interval: {gate.largest_growth(result.comparisons)}; "
            f"limit {result.max_slowdown:g}x"
        )
    if result.passed:
        print(
            f"gate: passed ({result.compared} relative latencies compared"
            f"{', no baseline' if baseline is None else ''})"
        )
        return 0
    for failure in result.failures:
        print(f"edgedigits {args.command}: gate failed: {failure}", file=sys.stderr)
    return 1


def cmd_bench(args: argparse.Namespace) -> int:
    from edgedigits.benchmark import bench
    from edgedigits.benchmark import report as reports

    baselines = _check_outputs(args)
    if args.baseline and not args.check:
        print("note: --baseline without --check only validates the baseline file")
    result = bench(
        args.targets,
        all_models=args.all,
        out=args.out,
        data=args.data,
        options=_bench_options(args),
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
    code = _gate(args, doc, baselines)
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
