"""Benchmark: train each champion with three seeds on the full data, and commit mean and spread.

    python bench/train_champions.py --out exports            # ~40 min on 2 cores, one at a time
    python bench/train_champions.py --out exports --jobs 2   # ~26 min, two runs at a time

Seed 0 trains into ``--out`` (the model ``export`` and ``bench`` use); seeds 1 and 2 into
``<out>/champion-seeds/seed<k>/``; the summary covers every champion run found there
(``--summarize-only`` trains nothing; ``--how`` says how its runs were made when they differ).
Each run is ``edgedigits.train`` with the registered recipe, alone on the machine, so its
``train_seconds`` is the time a user waits (with ``--jobs 2`` two runs share the cores, so each
time is an upper bound on a run alone). Writes
``bench/results/champions_training.{md,json}``: per run and per model, test accuracy on the full
10,000 test images (mean and sample standard deviation over the seeds) against the goals.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from edgedigits import atomic
from edgedigits.benchmark import machine_info
from edgedigits.markdown import table as markdown_table
from edgedigits.training import train

RESULTS = Path(__file__).resolve().parent / "results"
# The goals of the champions' issue: parameters, float test accuracy (mean over the seeds).
GOALS = {
    "edge_cnn_small": {"params": 10_000, "accuracy": 99.5},
    "edge_cnn_micro": {"params": 2_000, "accuracy": 99.0},
}
MAX_TRAIN_SECONDS = 600


def seed_out(out: Path, seed: int) -> Path:
    return out if seed == 0 else out / "champion-seeds" / f"seed{seed}"


def summarize(runs: list[dict]) -> dict[str, dict]:
    """Per model: accuracies and times over the seeds, mean, sample std, and each goal's verdict."""
    summary = {}
    for name, goal in GOALS.items():
        mine = [r for r in runs if r["model"] == name]
        if not mine:
            continue
        acc = [r["test_accuracy"] for r in mine]
        secs = [r["train_seconds"] for r in mine]
        mean = statistics.fmean(acc)
        summary[name] = {
            "params": mine[0]["params"],
            "seeds": [r["seed"] for r in mine],
            "test_accuracy": acc,
            "mean": round(mean, 4),
            "std": round(statistics.stdev(acc), 4) if len(acc) > 1 else None,
            "train_seconds": secs,
            "max_train_seconds": max(secs),
            "goals": {
                "params": mine[0]["params"] <= goal["params"],
                "accuracy": mean >= goal["accuracy"],
                "train_seconds": max(secs) <= MAX_TRAIN_SECONDS,
            },
            "goal_values": {**goal, "train_seconds": MAX_TRAIN_SECONDS},
        }
    return summary


def table(summary: dict[str, dict], info: dict, jobs: int = 1, how: str | None = None) -> str:
    def mark(ok: bool) -> str:
        return "yes" if ok else "**no**"

    rows = []
    for name, s in summary.items():
        per_seed = ", ".join(f"{a:.2f} (seed {k})" for a, k in zip(s["test_accuracy"], s["seeds"]))
        std = f" ± {s['std']:.2f}" if s["std"] is not None else ""
        rows.append(
            [
                name,
                f"{s['params']:,} (goal <= {s['goal_values']['params']:,})",
                per_seed,
                f"{s['mean']:.2f}{std}",
                f"{s['goal_values']['accuracy']:.1f}",
                mark(s["goals"]["accuracy"]),
                f"{s['max_train_seconds']:.0f}",
                mark(s["goals"]["train_seconds"]),
            ]
        )
    lines = markdown_table(
        [
            "model",
            "params",
            "test accuracy %, per seed",
            "mean ± std",
            "goal",
            "met",
            "train s (max)",
            "<= 600 s",
        ],
        rows,
        "lrlrrlrl",
    )
    cores = info["cores"]
    note = (
        f"\nEach run: `edgedigits.train(name, seed=k)` with the registered recipe, full "
        f"60,000/10,000 MNIST, {how or at_a_time(jobs)} on {info['cpu']}, {cores} cores, "
        f"TensorFlow {info['packages']['tensorflow']}. Accuracy: the trained float model on "
        "the full test set after the last epoch (no checkpoint picked on the test set). std: "
        "sample standard deviation over the seeds.\n"
    )
    return "\n".join(lines) + "\n" + note


def at_a_time(jobs: int) -> str:
    if jobs == 1:
        return "one run at a time"
    return f"{jobs} runs at a time (so each train time is an upper bound on a run alone)"


def train_concurrently(out: Path, seeds: list[int], names: list[str], jobs: int) -> None:
    """Each (seed, model) run in its own process, ``jobs`` at a time: TensorFlow keeps global
    state, and a crash stays with its run."""

    def run(seed_name: tuple[int, str]) -> None:
        seed, name = seed_name
        subprocess.run(
            [
                sys.executable,
                __file__,
                "--out",
                str(out),
                "--seeds",
                str(seed),
                "--only",
                name,
                "--train-only",
            ],
            check=True,
        )

    with ThreadPoolExecutor(jobs) as pool:
        list(pool.map(run, [(seed, name) for seed in seeds for name in names]))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="exports")
    parser.add_argument("--seeds", type=int, nargs="*", default=[0, 1, 2])
    parser.add_argument("--only", nargs="*", default=list(GOALS), choices=list(GOALS))
    parser.add_argument(
        "--summarize-only",
        action="store_true",
        help="train nothing: summarize the runs already under --out",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="runs at a time, each in its own process (with --summarize-only: "
        "how the runs were made, for the table's note)",
    )
    parser.add_argument(
        "--how",
        help="with --summarize-only, how the runs were made when they "
        "differ (replaces --jobs' wording in the table's note)",
    )
    parser.add_argument("--train-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error(f"--jobs {args.jobs}: must be at least 1")
    out = Path(args.out)
    if args.jobs > 1 and not args.summarize_only:
        train_concurrently(out, args.seeds, args.only, args.jobs)
    elif not args.summarize_only:
        for seed in args.seeds:
            for name in args.only:
                train([name], out=seed_out(out, seed), seed=seed, verbose=2)
    if args.train_only:
        return 0
    runs = [
        json.loads(path.read_text())
        for seed in (0, 1, 2)
        for name in GOALS
        if (path := seed_out(out, seed) / name / "metrics.json").is_file()
    ]
    summary = summarize(runs)
    info = machine_info()
    RESULTS.mkdir(parents=True, exist_ok=True)
    text = "# Champions: three seeds each\n\n" + table(summary, info, args.jobs, args.how)
    atomic.write_text(RESULTS / "champions_training.md", text)
    atomic.write_json(
        RESULTS / "champions_training.json",
        {
            "machine": info,
            "runs_at_a_time": args.jobs,
            "how": args.how,
            "summary": summary,
            "runs": runs,
        },
    )
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
