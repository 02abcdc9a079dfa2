"""``edgedigits compare`` and ``edgedigits ci``: base against head in one run, any repository."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from edgedigits.cli._args import _command, _positive_int


def _compare_options(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "max_slowdown": args.max_slowdown,
        "max_instruction_growth": args.max_instruction_growth,
        "rounds": args.rounds,
        "instructions": args.instructions,
    }


def _print_verdict(command: str, failures: list[str], summary: list[str]) -> int:
    for line in summary:
        if line:
            print(line)
    for failure in failures:
        print(f"edgedigits {command}: regression: {failure}", file=sys.stderr)
    return 1 if failures else 0


def cmd_compare(args: argparse.Namespace) -> int:
    from edgedigits import atomic
    from edgedigits.benchmark.compare import CompareOptions
    from edgedigits.benchmark.compare_report import compare
    from edgedigits.outputs import writable_file

    for flag in ("json", "markdown"):
        if getattr(args, flag):
            writable_file(getattr(args, flag), f"--{flag}")
    labels = tuple(args.labels.split(",")) if args.labels else ("base", "head")
    if len(labels) != 2 or not all(labels):
        from edgedigits.errors import UsageError

        raise UsageError(f"--labels {args.labels}: two names, comma-separated (e.g. main,pr)")
    chosen = {k: v for k, v in _compare_options(args).items() if v is not None}
    report = compare(args.base, args.head, CompareOptions(labels=labels, **chosen))
    if args.json:
        atomic.write_text(args.json, json.dumps(report.to_json(), indent=1) + "\n")
    if args.markdown:
        atomic.write_text(args.markdown, report.to_markdown())
    return _print_verdict("compare", report.failures, report.summary_lines())


def cmd_ci(args: argparse.Namespace) -> int:
    from edgedigits.ci_job import run_ci
    from edgedigits.project_config import find_config

    config = args.config or find_config(".")
    if config is None:
        from edgedigits.errors import UsageError

        raise UsageError(
            "--config: none given, and no edgedigits.toml or pyproject.toml with "
            "[tool.edgedigits] here"
        )
    result = run_ci(
        config,
        out=args.out,
        base=args.base,
        history=args.history,
        record=args.record,
        overrides=_compare_options(args),
    )
    for path in result.files:
        print(f"report: {path}")
    failures = result.report.failures + result.budget_failures
    return _print_verdict("ci", failures, result.report.summary_lines())


def _add_gate_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--max-slowdown",
        type=float,
        default=None,
        metavar="X",
        help="a file fails when the 95%% interval of its latency growth lies above X "
        "(default 1.1, or the configuration's gate.max_slowdown)",
    )
    parser.add_argument(
        "--max-instruction-growth",
        type=float,
        default=None,
        metavar="X",
        help="a file fails when its instructions per inference grow beyond X (default 1.01)",
    )
    parser.add_argument(
        "--rounds", type=_positive_int, default=None, help="ABBA rounds per pair (default 30)"
    )
    parser.add_argument(
        "--instructions",
        choices=("auto", "yes", "no"),
        default=None,
        help="count instructions under Valgrind: auto (when installed; default), yes, no",
    )


def add_parser(sub: Any) -> None:
    comp = _command(
        sub,
        cmd_compare,
        "compare",
        help="time two export folders against each other in one run (base vs head)",
        description="Pair the files of the same name in two export folders, time each pair in "
        "the same process in ABBA rounds, count instructions under Valgrind, and report "
        "latency growth with a 95%% interval and the changes in size, accuracy, parity and "
        "which file to ship. Exit 1 when a file regresses beyond the limits.",
    )
    comp.add_argument("base", metavar="BASE_OUT", help="the base revision's export folder")
    comp.add_argument("head", metavar="HEAD_OUT", help="the head revision's export folder")
    comp.add_argument("--labels", default=None, help="names of the two sides (default base,head)")
    comp.add_argument("--json", default=None, metavar="FILE", help="write the report as JSON")
    comp.add_argument("--markdown", default=None, metavar="FILE", help="write it as Markdown")
    _add_gate_flags(comp)
    ci = _command(
        sub,
        cmd_ci,
        "ci",
        help="in a git checkout: export the merge base's models and the head's, compare them",
        description="Read the project's configuration, export its models from the merge base "
        "(a temporary git worktree) and from the working tree, compare them in one run, write "
        "compare.md, compare.json and charts under OUT/report, exit 1 on a regression or a "
        "budget failure. No committed baseline is needed.",
    )
    ci.add_argument(
        "--config", default=None, metavar="FILE", help="pyproject.toml or edgedigits.toml"
    )
    ci.add_argument(
        "--base",
        default=None,
        metavar="REF",
        help="compare with the merge base of HEAD and REF (default: the configuration's "
        "gate.base, else origin/$GITHUB_BASE_REF in a pull request, else HEAD~1)",
    )
    ci.add_argument(
        "--out",
        default="edgedigits-ci",
        metavar="DIR",
        help="where base/, head/ and report/ go (default edgedigits-ci/)",
    )
    ci.add_argument(
        "--history",
        default=None,
        metavar="FILE",
        help="JSON-lines history to draw this run against",
    )
    ci.add_argument(
        "--record", action="store_true", help="append this run to --history (on the main branch)"
    )
    _add_gate_flags(ci)
