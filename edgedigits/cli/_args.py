"""What every command's parser shares: one-line argparse errors, typed flag values, the
--data flag, model selection, the bench and budget flags."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

EPILOG_DATA = (
    "--data: omit for the embedded MNIST; or a folder of IDX files, a Keras-style "
    ".npz, or 'keras' / 'keras:fashion_mnist' to download (needs a network)"
)


class _Parser(argparse.ArgumentParser):
    """argparse, with its usage errors on one line (the flag, what is wrong, where help is)."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


class CommaList(argparse.Action):
    """A comma-list flag that may also be given more than once: ``--target web --target mobile``
    means ``web,mobile``. argparse's plain ``store`` keeps only the last one, which silently
    dropped every earlier target (issue 38). The first occurrence replaces the default."""

    def __call__(self, parser, namespace, values, option_string=None):
        current = getattr(namespace, self.dest, None)
        joined = values if current in (None, self.default) else f"{current},{values}"
        setattr(namespace, self.dest, joined)


class Once(argparse.Action):
    """A flag that takes one value and refuses a second, in one line, rather than keeping only
    the last as argparse's plain ``store`` does."""

    def __call__(self, parser, namespace, values, option_string=None):
        current = getattr(namespace, self.dest, None)
        if current not in (None, self.default):
            parser.error(f"{option_string} given twice ({current}, {values}): it takes one")
        setattr(namespace, self.dest, values)


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


def _command(
    sub: Any, func: Callable[[argparse.Namespace], int], name: str, **parser_args: Any
) -> argparse.ArgumentParser:
    """One subcommand: its parser, bound to the function that runs it."""
    parser = sub.add_parser(name, **parser_args)
    parser.set_defaults(func=func)
    return parser


def _add_data_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data",
        metavar="PATH",
        default=None,
        help="data source (default: the embedded MNIST; see below)",
    )


def _add_model_selection(
    parser: argparse.ArgumentParser,
    *,
    names: str,
    all_models: str,
    out: str,
    dest: str = "names",
    metavar: str = "NAME",
) -> None:
    """What every model-taking command shares: the names, --all, --out and --data."""
    parser.add_argument(dest, nargs="*", metavar=metavar, help=names)
    parser.add_argument("--all", action="store_true", help=all_models)
    parser.add_argument("--out", default="exports", metavar="DIR", help=out)
    _add_data_flag(parser)


def cli_command() -> str:
    """The command line as typed, for the manifest (the library never reads ``sys.argv``)."""
    import shlex

    return "edgedigits " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def _add_budget_flags(parser: argparse.ArgumentParser, what: str, scope: str) -> None:
    """--max-arena-bytes / --max-flash-bytes: the same budget for bench rows and C arrays."""
    for flag, figure in (
        ("--max-arena-bytes", "tensor arena, measured in TensorFlow Lite Micro,"),
        ("--max-flash-bytes", "model data (the .tflite bytes)"),
    ):
        parser.add_argument(
            flag,
            type=_positive_int,
            default=None,
            metavar="N",
            help=f"microcontroller budget: {what} whose {figure} is larger fail ({scope})",
        )


def _add_bench_flags(parser: argparse.ArgumentParser) -> None:
    from edgedigits.benchmark.gate import DEFAULT_MAX_SLOWDOWN, DEFAULT_RETRIES, RETRY_PAUSE_S
    from edgedigits.runtimes import DEFAULT_RUNTIMES, RUNTIMES

    parser.add_argument(
        "--runtimes",
        default=None,
        metavar="RT[,RT]",
        help=f"runtimes to use (default: {', '.join(DEFAULT_RUNTIMES)}; opt-in: "
        f"{', '.join(n for n in RUNTIMES if n not in DEFAULT_RUNTIMES)}); "
        "GPU ones are skipped with the reason on machines without a GPU",
    )
    parser.add_argument(
        "--threads",
        type=_positive_int,
        default=1,
        help="runtime threads (default 1, the edge-like case)",
    )
    parser.add_argument(
        "--batch",
        type=_positive_int,
        default=32,
        metavar="N",
        help="larger batch measured besides batch 1 (default 32)",
    )
    parser.add_argument(
        "--no-xnnpack", action="store_true", help="LiteRT without its XNNPACK delegate"
    )
    parser.add_argument(
        "--warmup",
        type=_non_negative_int,
        default=10,
        help="untimed calls per row before timing (default 10)",
    )
    parser.add_argument(
        "--rounds",
        type=_positive_int,
        default=20,
        help="interleaved timing rounds; each round times every row of a model "
        "once, in a shuffled order (default 20)",
    )
    parser.add_argument(
        "--min-runs",
        type=_positive_int,
        default=20,
        help="timed calls per row at least, over all rounds (default 20: one per round)",
    )
    parser.add_argument(
        "--min-seconds",
        type=_positive_float,
        default=0.2,
        help="timed seconds per row at least, over all rounds (default 0.2)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="add a per-operator time breakdown where the runtime exposes one "
        "(ONNX Runtime's session profiling)",
    )
    parser.add_argument(
        "--test-limit",
        type=_positive_int,
        default=None,
        metavar="N",
        help="parity on the first N test images (default: all 10,000)",
    )
    parser.add_argument(
        "--tolerances",
        metavar="FILE",
        default=None,
        help="JSON file overriding the contract's parity tolerances by "
        "family or recipe (see bench/tolerances.json and "
        "docs/reference/contract.md)",
    )
    parser.add_argument(
        "--min-agreement",
        type=_number_in(0.0, 1.0),
        default=None,
        help="override the top-1 agreement floor for every recipe (0-1)",
    )
    parser.add_argument(
        "--max-accuracy-drop",
        type=_number_in(0.0, 100.0),
        default=None,
        help="override the allowed accuracy drop (points) for every recipe",
    )
    parser.add_argument(
        "--baseline",
        metavar="FILE",
        action="append",
        default=[],
        help="a committed bench JSON to compare with (see --check); repeat it "
        "to give one per machine: the gate judges latency against the one "
        "from this run's CPU and only reports it against any other",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="exit non-zero on a parity failure, a newly failing row, or a "
        "latency regression against --baseline",
    )
    parser.add_argument(
        "--max-slowdown",
        type=_number_in(1.0, 1e6),
        default=DEFAULT_MAX_SLOWDOWN,
        help="allowed growth of latency relative to the same run's float32 "
        "LiteRT reference; a row fails only when the 95%% interval of its "
        f"growth lies above it (default {DEFAULT_MAX_SLOWDOWN}x)",
    )
    parser.add_argument(
        "--gate-retries",
        type=_non_negative_int,
        default=DEFAULT_RETRIES,
        metavar="N",
        help="bench a model whose latency alarms again, after a "
        f"{RETRY_PAUSE_S:g} s pause, up to N times; it fails only if every "
        f"measurement regressed (default {DEFAULT_RETRIES}; 0: judge the "
        "first)",
    )
    parser.add_argument(
        "--gate-references",
        action="store_true",
        help="also gate the latency of the trained model's own runtimes "
        "(keras, keras-predict, tensorflow-gpu); reported either way",
    )
    _add_budget_flags(parser, "rows", "with --runtimes tflm")
    parser.add_argument(
        "--gate-markdown",
        metavar="PATH",
        default=None,
        help="write the gate's table (growth and interval per row) here",
    )


def apply_project_config(args: argparse.Namespace) -> None:
    """A command given no model names takes them from the project's configuration
    (``[tool.edgedigits]`` in ./pyproject.toml, or ./edgedigits.toml), and with them its
    targets, formats, recipes and output folder where the command line left the default."""
    dest = "targets" if args.command == "bench" else "names"
    if getattr(args, dest, None) != [] or getattr(args, "all", False):
        return
    from edgedigits.project_config import check_names, find_config, load_config

    path = find_config(".")
    if path is None:
        return
    config = load_config(path)
    check_names(config)
    setattr(args, dest, config.model_names())
    defaults = {"target": (None, "all"), "format": (None,), "quant": (None,)}
    chosen = {"target": config.targets, "format": config.formats, "quant": config.recipes}
    for attr, value in chosen.items():
        if value and hasattr(args, attr) and getattr(args, attr) in defaults[attr]:
            setattr(args, attr, ",".join(value))
    if hasattr(args, "out") and args.out == "exports":
        args.out = config.out
    print(f"edgedigits {args.command}: models from {path}: {', '.join(config.models)}")
