"""What ``bench`` and ``pipeline`` share past their flags: the bench options a command line
asks for, the output paths and baselines checked before any work, and the gate run on the
result (with its re-timing), printed as the verdict and returned as the exit code."""

from __future__ import annotations

import argparse
import sys


def bench_options(args: argparse.Namespace):
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


def check_outputs(args: argparse.Namespace) -> list[tuple[str, dict]]:
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


def retimer(args: argparse.Namespace, doc: dict):
    """The gate's re-timing: bench the named models' artifacts from ``doc`` again, with the same
    options, less what re-timing does not need (plots, profiles, ungated reference runtimes)."""
    import dataclasses

    from edgedigits.benchmark import bench
    from edgedigits.benchmark import report as reports
    from edgedigits.runtimes import REFERENCE_RUNTIMES

    options = bench_options(args)
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


def run_gate(args: argparse.Namespace, doc: dict, baselines: list[tuple[str, dict]]) -> int:
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
        retimer(args, doc),
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
