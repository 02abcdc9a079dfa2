"""The ``edgedigits`` command: parse flags, call the library, map user errors to exit code 1.

Nothing here does real work; every subcommand is one call into the typed library API, so anything
the CLI does, Python can do. Heavy modules are imported inside the handlers so ``--help`` is instant.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

from edgedigits import __version__
from edgedigits.errors import EdgeDigitsError, is_disk_full

EPILOG_DATA = ("--data: omit for the embedded MNIST; or a folder of IDX files, a Keras-style "
               ".npz, or 'keras' / 'keras:fashion_mnist' to download (needs a network)")


class _Parser(argparse.ArgumentParser):
    """argparse, with its usage errors on one line (the flag, what is wrong, where help is)."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _int_at_least(minimum: int, maximum: int | None = None):
    """An argparse type: a whole number no smaller than ``minimum``."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{value} must be at least {minimum}")
        if maximum is not None and value > maximum:
            raise argparse.ArgumentTypeError(f"{value} must be at most {maximum}")
        return value
    return parse


_positive_int = _int_at_least(1)
_non_negative_int = _int_at_least(0)
_seed = _int_at_least(0, 2**32 - 1)  # NumPy's seeding range


def _number_in(low: float, high: float):
    """An argparse type: a finite number in [low, high]."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not low <= value <= high:  # also rejects nan
            raise argparse.ArgumentTypeError(f"{text!r} must be between {low:g} and {high:g}")
        return value
    return parse


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (value > 0 and value != float("inf")):
        raise argparse.ArgumentTypeError(f"{text!r} must be a positive, finite number")
    return value


def _command(sub: Any, func: Callable[[argparse.Namespace], int], name: str,
             **parser_args: Any) -> argparse.ArgumentParser:
    """One subcommand: its parser, bound to the function that runs it."""
    parser = sub.add_parser(name, **parser_args)
    parser.set_defaults(func=func)
    return parser


def _add_data_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", metavar="PATH", default=None,
                        help="data source (default: the embedded MNIST; see below)")


def _add_model_selection(parser: argparse.ArgumentParser, *, names: str, all_models: str,
                         out: str, dest: str = "names", metavar: str = "NAME") -> None:
    """What every model-taking command shares: the names, --all, --out and --data."""
    parser.add_argument(dest, nargs="*", metavar=metavar, help=names)
    parser.add_argument("--all", action="store_true", help=all_models)
    parser.add_argument("--out", default="exports", metavar="DIR", help=out)
    _add_data_flag(parser)


def cmd_zoo(args: argparse.Namespace) -> int:
    from edgedigits.zoo import describe_models, list_models

    if args.names:
        print("\n".join(list_models()))
        return 0
    rows = describe_models()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    header = ("name", "source", "params", "shipped %", "architecture", "recipe")
    table = [header] + [(r["name"], r["source"], f"{r['params']:,}",
                         f"{r['pretrained']['test_accuracy']:.2f}" if r["pretrained"] else "-",
                         r["architecture"], r["recipe"]) for r in rows]
    if args.markdown:
        print("| " + " | ".join(header) + " |")
        print("|---|---|---:|---:|---|---|")
        for row in table[1:]:
            print("| " + " | ".join(row) + " |")
        return 0
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for k, row in enumerate(table):
        print("  ".join(cell.rjust(w) if i in (2, 3) else cell.ljust(w)
                        for i, (cell, w) in enumerate(zip(row, widths))).rstrip())
        if k == 0:
            print("  ".join("-" * w for w in widths))
    return 0


def cli_command() -> str:
    """The command line as typed, for the manifest (the library never reads ``sys.argv``)."""
    import shlex

    return "edgedigits " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def cmd_train(args: argparse.Namespace) -> int:
    from edgedigits.training import train

    results = train(args.names, all_models=args.all, data=args.data, out=args.out,
                    epochs=args.epochs, limit=args.limit, seed=args.seed)
    print(f"trained {len(results)} model(s) into {args.out}:")
    for r in results:
        print(f"  {r.model:28s} test accuracy {r.test_accuracy:6.2f}%  ({r.train_seconds:.1f}s)")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from edgedigits.model_import import import_model

    record = import_model(args.file, name=args.name, out=args.out, data=args.data,
                          preprocessing=args.preprocessing)
    print(f"{record.name}: ready; 'edgedigits export {record.name} --out {args.out} "
          "--format all --quant all' exports it")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from edgedigits.export import ExportOptions, FinetuneOptions, export
    from edgedigits.mcu_budget import MCUBudget

    options = ExportOptions(
        formats=args.format, recipes=args.quant, targets=args.target or (), io=args.io,
        batch=args.batch, calibration_samples=args.calibration_samples,
        opset=args.opset, verify_samples=args.verify_samples, seed=args.seed,
        finetune=FinetuneOptions(epochs=args.finetune_epochs, samples=args.finetune_samples,
                                 sparsity=args.sparsity, clusters=args.clusters, seed=args.seed),
        auto_fix=args.auto_fix, keep_float=[args.keep_float] if args.keep_float else [],
        budget=MCUBudget(args.max_arena_bytes, args.max_flash_bytes), ort_style=args.ort_style,
        onnx_batch=args.onnx_batch, train_missing=args.train, jobs=args.jobs)
    report = export(args.names, all_models=args.all, out=args.out, data=args.data,
                    options=options, command=cli_command())
    print(report.to_markdown(), end="")
    ok = sum(r.ok for r in report.records)
    print(f"{ok} artifact(s) written under {args.out}/<model>/ with manifest.json and golden.json")
    for r in report.failed:
        print(f"edgedigits export: failed: {r.file}: {r.reason}", file=sys.stderr)
    for r in report.parity_failures:
        p = r.parity
        allowed = p["max_abs_diff_allowed"]
        fixed = report.repaired_by(r)
        repaired = (f"; repaired by --auto-fix: {fixed.file} agreement "
                    f"{100 * fixed.parity['agreement']:.2f}%" if fixed else "")
        print(f"edgedigits export: parity outside tolerance: {r.file}: agreement "
              f"{100 * p['agreement']:.2f}% (min {100 * p['min_agreement']:.0f}%), max abs diff "
              f"{p['max_abs_diff']:.3g} ({'not judged' if allowed is None else f'max {allowed:g}'})"
              f"{repaired}", file=sys.stderr)
    return 0 if report.all_good else 1


def _bench_options(args: argparse.Namespace):
    from pathlib import Path

    from edgedigits.benchmark import BenchOptions, TimingOptions, load_tolerances
    from edgedigits.runtimes import parse_runtimes

    tolerances = load_tolerances(args.tolerances, {"min_agreement": args.min_agreement,
                                                   "max_accuracy_drop": args.max_accuracy_drop})
    batches = (1,) if args.batch == 1 else (1, args.batch)
    return BenchOptions(
        runtimes=tuple(parse_runtimes(args.runtimes)), threads=args.threads,
        batch_sizes=batches, xnnpack=not args.no_xnnpack,
        timing=TimingOptions(warmup=args.warmup, rounds=args.rounds, min_runs=args.min_runs,
                             min_seconds=args.min_seconds),
        test_limit=args.test_limit, tolerances=tolerances,
        plots_dir=Path(args.plots) if getattr(args, "plots", None) else None,
        profile=args.profile, max_arena_bytes=args.max_arena_bytes,
        max_flash_bytes=args.max_flash_bytes)


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
    runtimes = tuple(r for r in options.runtimes
                     if args.gate_references or r not in REFERENCE_RUNTIMES)
    options = dataclasses.replace(options, runtimes=runtimes or options.runtimes,
                                  plots_dir=None, profile=False)

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
        print(f"gate: baseline: {chosen[0]} (of {len(baselines)}, chosen by this run's CPU: "
              f"{doc['machine'].get('cpu_id') or doc['machine']['cpu']})")
    result = gate.check_and_retime(doc, baseline, _retimer(args, doc), args.max_slowdown,
                                   args.gate_references, retries=args.gate_retries,
                                   pause_s=gate.RETRY_PAUSE_S)
    if args.gate_markdown:
        from edgedigits import atomic

        atomic.write_text(args.gate_markdown, result.to_markdown())
    for note in result.notes:
        print(f"gate: note: {note}")
    if result.comparisons:
        print(f"gate: largest growth interval: {gate.largest_growth(result.comparisons)}; "
              f"limit {result.max_slowdown:g}x")
    if result.passed:
        print(f"gate: passed ({result.compared} relative latencies compared"
              f"{', no baseline' if baseline is None else ''})")
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
    result = bench(args.targets, all_models=args.all, out=args.out, data=args.data,
                   options=_bench_options(args))
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
        print(f"edgedigits bench: failed: {row.artifact} on {row.runtime}: {row.reason}",
              file=sys.stderr)
    for row in result.over_budget:
        if row.batch == 1:
            print(f"edgedigits bench: over budget: {row.artifact} on {row.runtime}: "
                  f"{'; '.join(row.budget_failures)}", file=sys.stderr)
    code = _gate(args, doc, baselines)
    return 1 if ((result.failed or result.over_budget) and not code) else code


def cmd_pipeline(args: argparse.Namespace) -> int:
    from edgedigits.benchmark import report as reports
    from edgedigits.pipeline import pipeline

    baselines = _check_outputs(args)
    from edgedigits.export import ExportOptions

    result = pipeline(args.names, all_models=args.all, out=args.out, data=args.data,
                      epochs=args.epochs, export_options=ExportOptions(
                          formats=args.format, recipes=args.quant, targets=args.target,
                          jobs=args.jobs),
                      bench_options=_bench_options(args), report_dir=args.report_dir,
                      command=cli_command(), train_missing=args.train)
    print(reports.terminal_summary(result.document))
    for path in result.files:
        print(f"report: {path}")
    failed = result.exported.failed + result.benched.failed
    for row in result.exported.failed:
        print(f"edgedigits pipeline: export failed: {row.file}: {row.reason}", file=sys.stderr)
    code = _gate(args, result.document, baselines)
    return 1 if (failed and not code) else code


def cmd_verify(args: argparse.Namespace) -> int:
    from edgedigits.verify import verify

    if args.json:
        from edgedigits.outputs import writable_file

        writable_file(args.json, "--json")
    report = verify(args.targets, out=args.out, manifest_sha256=args.manifest_sha256 or ())
    if args.json:
        from edgedigits import atomic

        atomic.write_json(args.json, report.to_json())
    for problem in report.problems:
        print(f"edgedigits verify: {problem.line()}", file=sys.stderr)
    verdict = "passed" if report.passed else f"FAILED: {len(report.problems)} problem(s)"
    for folder, digest in report.manifests.items():
        print(f"manifest sha256 {digest}  {folder}/manifest.json")  # what an app's CI pins
    print(f"verify: {verdict}; {len(report.verified)} artifact(s) verified in "
          f"{len(report.folders)} model folder(s)")
    return 0 if report.passed else 1


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
    report = diagnose(args.name, recipe=args.quant or "int8", formats=args.format, out=args.out,
                      data=args.data, images=args.images)
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
    from edgedigits.doctor import lint
    from edgedigits.export.recipes import parse_formats, parse_recipes

    recipes = None if args.quant in (None, "all") else [
        r.value for r in parse_recipes(args.quant, parse_formats("all"))]
    findings = lint(args.name, recipes=recipes, out=args.out)
    for finding in findings:
        print(finding.line())
    errors = sum(f.severity == "error" for f in findings)
    print(f"lint: {args.name}: {errors} error(s), {len(findings) - errors} warning(s)")
    if args.json:
        from edgedigits import atomic

        atomic.write_json(args.json, {"schema": "edgedigits.lint/1", "model": args.name,
                                      "findings": [f.to_json() for f in findings]})
    return 0


def _add_budget_flags(parser: argparse.ArgumentParser, what: str, scope: str) -> None:
    """--max-arena-bytes / --max-flash-bytes: the same budget for bench rows and C arrays."""
    for flag, figure in (("--max-arena-bytes", "tensor arena, measured in TensorFlow Lite Micro,"),
                         ("--max-flash-bytes", "model data (the .tflite bytes)")):
        parser.add_argument(flag, type=_positive_int, default=None, metavar="N",
                            help=f"microcontroller budget: {what} whose {figure} is larger fail "
                                 f"({scope})")


def _add_bench_flags(parser: argparse.ArgumentParser) -> None:
    from edgedigits.benchmark.gate import DEFAULT_MAX_SLOWDOWN, DEFAULT_RETRIES, RETRY_PAUSE_S
    from edgedigits.runtimes import DEFAULT_RUNTIMES, RUNTIMES

    parser.add_argument("--runtimes", default=None, metavar="RT[,RT]",
                        help=f"runtimes to use (default: {', '.join(DEFAULT_RUNTIMES)}; opt-in: "
                             f"{', '.join(n for n in RUNTIMES if n not in DEFAULT_RUNTIMES)}); "
                             "GPU ones are skipped with the reason on machines without a GPU")
    parser.add_argument("--threads", type=_positive_int, default=1,
                        help="runtime threads (default 1, the edge-like case)")
    parser.add_argument("--batch", type=_positive_int, default=32, metavar="N",
                        help="larger batch measured besides batch 1 (default 32)")
    parser.add_argument("--no-xnnpack", action="store_true",
                        help="LiteRT without its XNNPACK delegate")
    parser.add_argument("--warmup", type=_non_negative_int, default=10,
                        help="untimed calls per row before timing (default 10)")
    parser.add_argument("--rounds", type=_positive_int, default=20,
                        help="interleaved timing rounds; each round times every row of a model "
                             "once, in a shuffled order (default 20)")
    parser.add_argument("--min-runs", type=_positive_int, default=20,
                        help="timed calls per row at least, over all rounds (default 20: one "
                             "per round)")
    parser.add_argument("--min-seconds", type=_positive_float, default=0.2,
                        help="timed seconds per row at least, over all rounds (default 0.2)")
    parser.add_argument("--profile", action="store_true",
                        help="add a per-operator time breakdown where the runtime exposes one "
                             "(ONNX Runtime's session profiling)")
    parser.add_argument("--test-limit", type=_positive_int, default=None, metavar="N",
                        help="parity on the first N test images (default: all 10,000)")
    parser.add_argument("--tolerances", metavar="FILE", default=None,
                        help="JSON file overriding parity tolerances per recipe family "
                             "(see bench/tolerances.json)")
    parser.add_argument("--min-agreement", type=_number_in(0.0, 1.0), default=None,
                        help="override the top-1 agreement floor for every family (0-1)")
    parser.add_argument("--max-accuracy-drop", type=_number_in(0.0, 100.0), default=None,
                        help="override the allowed accuracy drop (points) for every family")
    parser.add_argument("--baseline", metavar="FILE", action="append", default=[],
                        help="a committed bench JSON to compare with (see --check); repeat it "
                             "to give one per machine: the gate takes the one from this "
                             "run's CPU, else one that names no CPU")
    parser.add_argument("--check", action="store_true",
                        help="exit non-zero on a parity failure, a newly failing row, or a "
                             "latency regression against --baseline")
    parser.add_argument("--max-slowdown", type=_number_in(1.0, 1e6), default=DEFAULT_MAX_SLOWDOWN,
                        help="allowed growth of latency relative to the same run's float32 "
                             "LiteRT reference; a row fails only when the 95%% interval of its "
                             f"growth lies above it (default {DEFAULT_MAX_SLOWDOWN}x)")
    parser.add_argument("--gate-retries", type=_non_negative_int, default=DEFAULT_RETRIES,
                        metavar="N",
                        help="bench a model whose latency alarms again, after a "
                             f"{RETRY_PAUSE_S:g} s pause, up to N times; it fails only if every "
                             f"measurement regressed (default {DEFAULT_RETRIES}; 0: judge the "
                             "first)")
    parser.add_argument("--gate-references", action="store_true",
                        help="also gate the latency of the trained model's own runtimes "
                             "(keras, keras-predict, tensorflow-gpu); reported either way")
    _add_budget_flags(parser, "rows", "with --runtimes tflm")
    parser.add_argument("--gate-markdown", metavar="PATH", default=None,
                        help="write the gate's table (growth and interval per row) here")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="edgedigits",
        description="Train a zoo of MNIST digit models, export them for the edge, benchmark them.")
    parser.add_argument("--version", action="version", version=f"edgedigits {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    zoo = _command(sub, cmd_zoo, "zoo",
                   help="list the model zoo with provenance and parameter counts",
                   description="List every zoo model: name, seed project, parameter count, "
                               "architecture and training recipe.")
    fmt = zoo.add_mutually_exclusive_group()
    fmt.add_argument("--names", action="store_true", help="names only, one per line (fast)")
    fmt.add_argument("--json", action="store_true", help="full records as JSON")
    fmt.add_argument("--markdown", action="store_true", help="a Markdown table")

    train = _command(sub, cmd_train, "train", help="train zoo models with their seed's recipe",
                     description="Train zoo models with each seed project's recipe and save the "
                                 "model, history, metrics and plots under --out/<model>/.",
                     epilog=EPILOG_DATA)
    _add_model_selection(train, names="zoo model names (see 'zoo')",
                         all_models="train every zoo model",
                         out="output folder (default: exports/)")
    train.add_argument("--epochs", type=_positive_int, help="override the recipe's epoch count")
    train.add_argument("--limit", type=_positive_int, metavar="N",
                       help="train on the first N training images only")
    train.add_argument("--seed", type=_seed, default=0, help="random seed (default 0); the same "
                                                           "seed gives the same weights")

    imp = _command(sub, cmd_import,
        "import", help="bring in your own .keras/.h5 digit classifier (Keras 3 or Keras 2)",
        description="Read a model file a notebook saved (Keras 3 or tf_keras; .keras or .h5) as "
                    "data: its architecture through an allowlist of built-in layers (nothing "
                    "in the file is imported or run), its weights checked against it. The "
                    "model is rebuilt in tf_keras, its input scaling inferred on the test set, "
                    "and proven equivalent to the file in the Keras that wrote it (in a "
                    "subprocess). It lands in --out/NAME/ like a trained zoo model, and every "
                    "command then takes NAME.", epilog=EPILOG_DATA)
    imp.add_argument("file", metavar="FILE", help="the .keras or .h5 file model.save() wrote")
    imp.add_argument("--name", default=None,
                     help="the model's name under --out (default: from the file name)")
    imp.add_argument("--out", default="exports", metavar="DIR",
                     help="output folder (default: exports/)")
    imp.add_argument("--preprocessing", default=None, metavar="NAME",
                     help="the input scaling the model was trained with: unit (x/255), raw "
                          "(0-255), mnist-normalized ((x/255-0.1307)/0.3081); default: "
                          "inferred, the one that scores best on the test set")
    _add_data_flag(imp)

    from edgedigits.export.recipes import FORMAT_RECIPES  # light: enums only

    recipes_help = "; ".join(f"{fmt.value}: {', '.join(r.value for r in recs)}"
                             for fmt, recs in FORMAT_RECIPES.items())
    export = _command(sub, cmd_export,
        "export", help="export trained models to TFLite, ONNX and C, verified, with manifests",
        description="Export trained zoo models for the edge. Each artifact is run in its runtime "
                    "and compared with its Keras model; manifest.json and golden.json are "
                    "written beside the artifacts in --out/<model>/.",
        epilog=f"Recipes per format: {recipes_help}. {EPILOG_DATA}")
    _add_model_selection(export,
                         names="zoo or imported model names, or .keras/.h5 files to import "
                               "(default: "
                               "every model trained or imported under --out; none there: the "
                               "default models, from their shipped weights)",
                         all_models="export every zoo model",
                         out="folder with the trained models; artifacts land beside them "
                             "(default: exports/)")
    export.add_argument("--target", default=None, metavar="TARGET[,TARGET]",
                        help="web, mobile, mcu, server, or all: the formats, recipes and tensor "
                             "conventions the app runtimes of each accept (web: .tflite for "
                             "LiteRT.js with batch 1 and float32 I/O, .onnx for ONNX Runtime "
                             "Web; mobile: .tflite and .ort; mcu: int8 C arrays; server: .onnx "
                             "with a dynamic batch); --format and --quant then filter them")
    export.add_argument("--format", default=None, metavar="FMT[,FMT]",
                        help="tflite, onnx, ort, c, or all (default: tflite, or the targets')")
    export.add_argument("--quant", default=None, metavar="RECIPE[,RECIPE]",
                        help="recipes, comma-separated, or all (default: float32, or the "
                             "targets')")
    export.add_argument("--io", choices=("int8", "uint8", "float32"), default=None,
                        help="input/output type of full-integer TFLite files and C arrays (int8, "
                             "qat, int8-fixed, int8-mixed): default int8, or the target's "
                             "(float32 for web and mobile)")
    export.add_argument("--batch", default=None, metavar="N|dynamic",
                        help="batch dimension of .tflite files: a number, or dynamic (default 1;"
                             " LiteRT.js and TFLM take no dynamic batch)")
    export.add_argument("--train", action="store_true",
                        help="train models that have no trained .keras yet (default: start "
                             "them from the weights that ship with edgedigits)")
    export.add_argument("--calibration-samples", type=_positive_int, default=500, metavar="N",
                        help="training images for int8 calibration (default 500)")
    export.add_argument("--opset", type=int, default=17, help="ONNX opset, 13-18 (default 17)")
    export.add_argument("--finetune-epochs", type=_positive_int, default=1, metavar="N",
                        help="fine-tuning epochs for qat, pruned, clustered (default 1)")
    export.add_argument("--finetune-samples", type=_positive_int, default=None, metavar="N",
                        help="training images for fine-tuning (default: all)")
    export.add_argument("--sparsity", type=_number_in(0.0, 1.0), default=0.5,
                        help="pruning target sparsity, 0-1 (default 0.5)")
    export.add_argument("--clusters", type=_int_at_least(2), default=16,
                        help="weight clusters per kernel for 'clustered' (default 16)")
    export.add_argument("--verify-samples", type=_positive_int, default=1000, metavar="N",
                        help="test images each artifact is checked on (default 1000)")
    export.add_argument("--keep-float", metavar="LAYER[,LAYER]", default=None,
                        help="Keras layers that int8-mixed leaves in float (see 'edgedigits "
                             "doctor' for which ones cost int8 the most)")
    export.add_argument("--auto-fix", action="store_true",
                        help="when an int8 file fails parity, also export a repaired one: "
                             "int8-fixed (BatchNormalization after an activation folded forward, "
                             "exact in float) when the lint finds that pitfall, else int8-mixed "
                             "with the layer the doctor ranks worst kept in float")
    _add_budget_flags(export, "C arrays", "needs --format c")
    export.add_argument("--onnx-batch", type=int, choices=(1,), default=None, metavar="1",
                        help="ONNX and ORT files with a fixed batch of 1 (NNAPI and CoreML take "
                             "no node with a dynamic shape); default: a dynamic batch")
    export.add_argument("--ort-style", choices=("fixed", "runtime"), default="fixed",
                        help="ONNX Runtime Mobile optimization style for --format ort: fixed "
                             "(optimized for the CPU provider before saving; default) or runtime "
                             "(optimizations replayed at load, for NNAPI/CoreML)")
    export.add_argument("--jobs", type=_positive_int, default=None, metavar="N",
                        help="models exported at once, each in its own process (default: one per CPU "
                             "core when several models are fine-tuned, else 1)")
    export.add_argument("--seed", type=_seed, default=0, help="seed for calibration sampling and "
                                                            "fine-tuning (default 0)")

    bench = _command(sub, cmd_bench,
        "bench", help="accuracy parity and latency of every artifact in every runtime",
        description="Bench the artifacts 'export' wrote (by model name) or the files named: "
                    "accuracy parity with the Keras model on the test set and latency at batch 1 "
                    "and --batch, in every runtime that can run them.",
        epilog=EPILOG_DATA)
    _add_model_selection(bench, dest="targets", metavar="NAME|ARTIFACT",
                         names="zoo or imported model names, .tflite/.onnx/.ort files, or a "
                               ".keras/.h5 file to import",
                         all_models="every trained zoo model",
                         out="folder the models were trained and exported into (default exports/)")
    bench.add_argument("--json", metavar="PATH", help="write the JSON report (edgedigits.bench/2)")
    bench.add_argument("--markdown", metavar="PATH", help="write the Markdown report")
    bench.add_argument("--plots", metavar="DIR", help="write Pareto plots and pictures of "
                                                      "disagreeing images here")
    _add_bench_flags(bench)

    pipe = _command(sub, cmd_pipeline,
        "pipeline", help="export and bench (training only with --train): the whole flow",
        description="Start every model not trained under --out from the weights that ship with "
                    "edgedigits (or train it: --train), export it, bench everything, and write "
                    "the report to --report-dir. Without names, a small default subset; --all "
                    "for the whole zoo.", epilog=EPILOG_DATA)
    _add_model_selection(pipe, names="zoo or imported model names, or .keras/.h5 files",
                         all_models="the whole zoo",
                         out="default exports/")
    pipe.add_argument("--target", default="all", metavar="TARGET[,TARGET]",
                      help="web, mobile, mcu, server, or all (default all: every format and "
                           "recipe an app runtime takes, as 'export --target' picks them)")
    pipe.add_argument("--format", default=None, help="only these export formats")
    pipe.add_argument("--quant", default=None, help="only these export recipes")
    pipe.add_argument("--train", action="store_true",
                      help="train models not trained under --out with their recipes, instead "
                           "of starting from the weights that ship with edgedigits")
    pipe.add_argument("--epochs", type=_positive_int, help="override training epochs (implies "
                                                          "--train)")
    pipe.add_argument("--jobs", type=_positive_int, default=None, metavar="N",
                      help="models exported at once, each in its own process (default: one per CPU "
                           "core when several models are fine-tuned, else 1)")
    pipe.add_argument("--report-dir", metavar="DIR", default=None,
                      help="where the report goes (default <out>/report)")
    _add_bench_flags(pipe)

    doctor = _command(sub, cmd_doctor,
        "doctor", help="which layer breaks a quantized artifact, in each format, and why",
        description="Compare every layer's output in the exported artifacts (TFLite and ONNX) "
                    "with the trained Keras model on test images, one image per call, and rank "
                    "the layers by the quantization noise they add, with the reason read off "
                    "the numbers (clipped range, outliers, unfolded BatchNormalization).",
        epilog=EPILOG_DATA)
    doctor.add_argument("name", metavar="NAME", help="a zoo or imported model exported under "
                                                      "--out, or a .keras/.h5 file to import")
    doctor.add_argument("--lint", action="store_true",
                        help="only list the known pitfalls of the model for each recipe (no "
                             "conversion, no artifacts needed; --quant all for every recipe)")
    doctor.add_argument("--quant", default=None, metavar="RECIPE",
                        help="post-training recipe to diagnose: float32, float16, dynamic, "
                             "int8, int16x8, int8-fixed, int8-mixed (default int8; with --lint, "
                             "default all)")
    doctor.add_argument("--format", default="tflite,onnx", metavar="FMT[,FMT]",
                        help="formats to diagnose (default tflite,onnx: side by side)")
    doctor.add_argument("--images", type=_positive_int, default=300, metavar="N",
                        help="test images compared (default 300)")
    doctor.add_argument("--out", default="exports", metavar="DIR",
                        help="folder of trained and exported models (default exports/)")
    _add_data_flag(doctor)
    doctor.add_argument("--json", metavar="PATH", help="write the per-layer report as JSON")
    doctor.add_argument("--markdown", metavar="PATH", help="write the report as Markdown")
    doctor.add_argument("--plot", metavar="PATH", help="write the error-by-layer plot (PNG)")

    check = _command(sub, cmd_verify,
        "verify", help="check exported artifacts against their manifests before shipping",
        description="What an app's CI runs before shipping: every manifest record is checked "
                    "against its file (size, SHA-256, tensor specs and quantization as the "
                    "runtime reads them), the golden vectors are replayed one image per call in "
                    "each artifact's runtime, and C arrays are checked byte for byte against "
                    "their .tflite. Exit 1 with one line per problem.")
    check.add_argument("targets", nargs="*", metavar="NAME|DIR",
                       help="model names (under --out), model folders, or folders of model "
                            "folders (default: every model folder under --out)")
    check.add_argument("--out", default="exports", metavar="DIR",
                       help="where model names are looked up (default exports/)")
    check.add_argument("--json", metavar="PATH", help="also write the result as JSON here")
    check.add_argument("--manifest-sha256", action="append", metavar="HASH",
                       help="pin the manifest: each folder's manifest.json must have this "
                            "SHA-256 (repeat for several folders). Without it, verify proves "
                            "the folder agrees with its manifest, not that the manifest is the "
                            "one you shipped; verify prints each manifest's hash to pin")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except EdgeDigitsError as exc:
        print(f"edgedigits {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        if not is_disk_full(exc):
            raise
        # Every write is to a temporary name renamed into place, and a model folder changes
        # only by a whole commit, so a write that failed replaced nothing.
        where = exc.filename or getattr(args, "out", None) or "."
        print(f"edgedigits {args.command}: error: {where}: no space left on the device; the "
              "files written before were kept and nothing was replaced", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"edgedigits {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
