"""Benchmark: train the whole zoo with each seed's recipe on the full data, and commit the table.

    python bench/train_zoo.py            # ~35 min on 2 CPU cores
    python bench/train_zoo.py --only seed003_ann16_relu seed004_cnn

Writes ``bench/results/train_zoo.{md,json}`` and ``bench/results/zoo_accuracy.png`` (trained models
go to ``--out``, default ``exports/``, which git ignores). Not a test: it takes too long for CI.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from dataclasses import asdict
from pathlib import Path

from edgedigits import atomic
from edgedigits.benchmark.report import machine_info
from edgedigits.training import train, write_summary

RESULTS = Path(__file__).resolve().parent / "results"


def table(results, info) -> str:
    head = ["| model | params | epochs run | test acc % | final val acc % | seed reported % "
            "| diff (pts) | train s |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        ours = r.final_val_accuracy if (r.reported_metric or "").startswith("validation") \
            else r.test_accuracy
        diff = f"{ours - r.reported_percent:+.2f}" if r.reported_percent is not None else ""
        reported = f"{r.reported_percent:.2f} ({r.reported_metric})" if r.reported_percent else ""
        val = f"{r.final_val_accuracy:.2f}" if r.final_val_accuracy is not None else ""
        head.append(f"| {r.model} | {r.params:,} | {r.epochs_run}/{r.epochs_requested} | "
                    f"{r.test_accuracy:.2f} | {val} | {reported} | {diff} | "
                    f"{r.train_seconds:.0f} |")
    note = (f"\nMachine: {info['cpu']}, {info['cores']} cores, {info['os']}, Python "
            f"{info['python']}, TensorFlow {info['packages']['tensorflow']}. Seed 0, full 60,000/10,000 "
            "MNIST, each seed's own recipe (`edgedigits zoo`). 'diff' compares like with like: "
            "our final validation accuracy where the seed reports validation accuracy, else our "
            "test accuracy.\n")
    return "\n".join(head) + "\n" + note


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=None, help="train just these models")
    parser.add_argument("--out", default="exports")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    results = train(args.only or (), all_models=not args.only, out=args.out, seed=args.seed,
                    verbose=2)
    results = write_summary(args.out)  # everything trained under --out, in zoo order
    info = machine_info()
    RESULTS.mkdir(parents=True, exist_ok=True)
    atomic.write_text(RESULTS / "train_zoo.md", "# Full-zoo training\n\n" + table(results, info))
    atomic.write_json(RESULTS / "train_zoo.json",
                      {"machine": info, "results": [asdict(r) for r in results]})
    shutil.copyfile(Path(args.out) / "zoo_accuracy.png", RESULTS / "zoo_accuracy.png")
    print(table(results, info))
    return 0


if __name__ == "__main__":
    sys.exit(main())
